// Placeholder: filled in by the social work.
import type { ReactElement } from "react";
import type { UserProfile } from "../protocol/types";
export function UserCard(_props: { user: UserProfile }): ReactElement | null {
  return null;
}
