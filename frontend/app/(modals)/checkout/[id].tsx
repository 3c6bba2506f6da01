import { EmptyState, Screen } from "../../../src/ui/kit";

export default function Placeholder() {
  return (
    <Screen>
      <EmptyState title="Checkout" hint="Coming soon." />
    </Screen>
  );
}
