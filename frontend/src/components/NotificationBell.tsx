// Placeholder: filled in by the notifications work.
import type { ReactElement } from "react";

export function NotificationBell(): ReactElement | null {
  return null;
}
