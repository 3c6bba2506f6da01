// Placeholder: filled in by the messaging work.
import type { ReactElement } from "react";

export function MessageButton(_props: { userId: string }): ReactElement | null {
  return null;
}
