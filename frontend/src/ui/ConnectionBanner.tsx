import { View } from "react-native";
import { useStore } from "zustand";

import { useGrover } from "../runtime/grover";
import { Text } from "./kit";
import { space, useTheme } from "./theme";

/** A thin bar while the socket is down; sends made meanwhile wait in the outbox. */
export function ConnectionBanner() {
  const grover = useGrover();
  const connection = useStore(grover.session, (s) => s.connection);
  const { colors } = useTheme();
  if (connection === "open") return null;
  return (
    <View
      testID="connection-banner"
      pointerEvents="none"
      style={{
        position: "absolute",
        bottom: 72,
        alignSelf: "center",
        backgroundColor: colors.text,
        borderRadius: 999,
        paddingHorizontal: space.lg,
        paddingVertical: space.xs + 2,
      }}
    >
      <Text variant="caption" color={colors.background}>
        {connection === "closed" ? "Disconnected" : "Reconnecting…"}
      </Text>
    </View>
  );
}
