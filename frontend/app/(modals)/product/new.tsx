import { EmptyState, Screen } from "../../../src/ui/kit";

export default function Placeholder() {
  return (
    <Screen>
      <EmptyState title="New product" hint="Coming soon." />
    </Screen>
  );
}
