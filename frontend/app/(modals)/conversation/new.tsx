import { EmptyState, Screen } from "../../../src/ui/kit";

export default function Placeholder() {
  return (
    <Screen>
      <EmptyState title="New group" hint="Coming soon." />
    </Screen>
  );
}
