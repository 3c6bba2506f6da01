// Placeholder: filled in by the social work.
import type { ReactElement } from "react";
import type { PostView } from "../protocol/types";
export function PostCard(_props: { post: PostView; onOpen?: () => void }): ReactElement | null {
  return null;
}
