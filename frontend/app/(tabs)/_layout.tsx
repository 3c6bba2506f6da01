import { Redirect, Tabs } from "expo-router";
import { type ColorValue, Text as RNText } from "react-native";
import { useStore } from "zustand";

import { useGrover } from "../../src/runtime/grover";
import { useTabBadges } from "../../src/runtime/badges";
import { useTheme } from "../../src/ui/theme";

function Glyph(props: { glyph: string; color: ColorValue }) {
  return <RNText style={{ color: props.color, fontSize: 20 }}>{props.glyph}</RNText>;
}

export default function TabsLayout() {
  const grover = useGrover();
  const user = useStore(grover.session, (s) => s.user);
  const { colors } = useTheme();
  const badges = useTabBadges();
  if (user === null) return <Redirect href="/login" />;
  return (
    <Tabs
      screenOptions={{
        headerShown: false,
        tabBarActiveTintColor: colors.primary,
        tabBarInactiveTintColor: colors.textMuted,
        tabBarStyle: { backgroundColor: colors.surface, borderTopColor: colors.border },
      }}
    >
      <Tabs.Screen
        name="index"
        options={{ title: "Home", tabBarButtonTestID: "tab-home", tabBarIcon: ({ color }) => <Glyph glyph="⌂" color={color} /> }}
      />
      <Tabs.Screen
        name="search"
        options={{ title: "Search", tabBarButtonTestID: "tab-search", tabBarIcon: ({ color }) => <Glyph glyph="⌕" color={color} /> }}
      />
      <Tabs.Screen
        name="create"
        options={{ title: "Create", tabBarButtonTestID: "tab-create", tabBarIcon: ({ color }) => <Glyph glyph="+" color={color} /> }}
      />
      <Tabs.Screen
        name="messages"
        options={{
          title: "Messages",
          tabBarButtonTestID: "tab-messages",
          tabBarBadge: badges.messages > 0 ? badges.messages : undefined,
          tabBarIcon: ({ color }) => <Glyph glyph="✉" color={color} />,
        }}
      />
      <Tabs.Screen
        name="profile"
        options={{ title: "Profile", tabBarButtonTestID: "tab-profile", tabBarIcon: ({ color }) => <Glyph glyph="◉" color={color} /> }}
      />
    </Tabs>
  );
}
