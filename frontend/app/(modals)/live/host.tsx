import { EmptyState, Screen } from "../../../src/ui/kit";

export default function Placeholder() {
  return (
    <Screen>
      <EmptyState title="Go live" hint="Coming soon." />
    </Screen>
  );
}
