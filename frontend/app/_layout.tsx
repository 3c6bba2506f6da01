import { Stack } from "expo-router";
import { StatusBar } from "expo-status-bar";
import { useEffect } from "react";
import { SafeAreaProvider } from "react-native-safe-area-context";

import { useRuntime } from "../src/runtime/grover";
import { ConnectionBanner } from "../src/ui/ConnectionBanner";
import { ErrorState, LoadingState, Screen } from "../src/ui/kit";
import { useTheme } from "../src/ui/theme";

/** Boots the one Grover, then hands over to the tabs, auth or a modal. */
export default function RootLayout() {
  const { status, error, start } = useRuntime();
  const { scheme, colors } = useTheme();
  useEffect(() => {
    if (useRuntime.getState().status === "idle") void start();
  }, [start, status]);

  let body;
  if (status === "ready") {
    body = (
      <Stack
        screenOptions={{
          headerShown: false,
          contentStyle: { backgroundColor: colors.background },
        }}
      >
        <Stack.Screen name="(tabs)" />
        <Stack.Screen name="(auth)" />
        <Stack.Screen name="(modals)" options={{ presentation: "modal" }} />
      </Stack>
    );
  } else if (status === "error") {
    body = (
      <Screen>
        <ErrorState message={`Can't reach Grover (${error ?? "unknown"})`} onRetry={() => void start()} />
      </Screen>
    );
  } else {
    body = (
      <Screen>
        <LoadingState label="Connecting…" />
      </Screen>
    );
  }
  return (
    <SafeAreaProvider>
      <StatusBar style={scheme === "dark" ? "light" : "dark"} />
      {body}
      {status === "ready" ? <ConnectionBanner /> : null}
    </SafeAreaProvider>
  );
}
