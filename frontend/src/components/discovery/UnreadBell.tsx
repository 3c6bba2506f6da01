/** The bell with the unread count: drawn, so it looks the same on every platform and font. */
import { Pressable, View } from "react-native";
import { useStore } from "zustand";

import type { NotificationsStore } from "../../stores/notifications";
import { Badge } from "../../ui/kit";
import { radius, space, useTheme } from "../../ui/theme";

function BellGlyph() {
  const { colors } = useTheme();
  return (
    <View style={{ alignItems: "center" }}>
      <View
        style={{
          width: 16,
          height: 14,
          borderWidth: 2,
          borderBottomWidth: 0,
          borderColor: colors.text,
          borderTopLeftRadius: 8,
          borderTopRightRadius: 8,
        }}
      />
      <View style={{ width: 20, height: 2, borderRadius: 1, backgroundColor: colors.text }} />
      <View
        style={{
          width: 6,
          height: 3,
          marginTop: 1,
          borderBottomLeftRadius: 3,
          borderBottomRightRadius: 3,
          backgroundColor: colors.text,
        }}
      />
    </View>
  );
}

export function UnreadBell(props: { store: NotificationsStore; onPress: () => void }) {
  const unread = useStore(props.store, (s) => s.unread);
  return (
    <Pressable
      testID="notification-bell"
      accessibilityRole="button"
      accessibilityLabel={unread > 0 ? `Notifications, ${unread} unread` : "Notifications"}
      onPress={props.onPress}
      hitSlop={space.sm}
      style={({ pressed }) => ({
        width: 40,
        height: 40,
        borderRadius: radius.round,
        alignItems: "center",
        justifyContent: "center",
        opacity: pressed ? 0.6 : 1,
      })}
    >
      <BellGlyph />
      <View style={{ position: "absolute", top: 0, right: -2 }}>
        <Badge count={unread} testID="notification-badge" />
      </View>
    </Pressable>
  );
}
