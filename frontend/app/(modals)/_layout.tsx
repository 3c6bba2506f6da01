import { Redirect, Stack } from "expo-router";
import { useStore } from "zustand";

import { useGrover } from "../../src/runtime/grover";
import { useTheme } from "../../src/ui/theme";

export default function ModalsLayout() {
  const user = useStore(useGrover().session, (s) => s.user);
  const { colors } = useTheme();
  if (user === null) return <Redirect href="/login" />;
  return (
    <Stack
      screenOptions={{
        headerStyle: { backgroundColor: colors.surface },
        headerTintColor: colors.text,
        contentStyle: { backgroundColor: colors.background },
      }}
    />
  );
}
