// Placeholder: filled in by the marketplace work.
import type { ReactElement } from "react";

export function ShopSection(_props: { sellerId: string }): ReactElement | null {
  return null;
}
