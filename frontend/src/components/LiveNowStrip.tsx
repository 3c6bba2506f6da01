// Placeholder: filled in by the live work.
import type { ReactElement } from "react";

export function LiveNowStrip(): ReactElement | null {
  return null;
}
