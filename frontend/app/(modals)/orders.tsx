import { EmptyState, Screen } from "../../src/ui/kit";

export default function Placeholder() {
  return (
    <Screen>
      <EmptyState title="Orders" hint="Coming soon." />
    </Screen>
  );
}
