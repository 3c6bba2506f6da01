import { FlashList } from "@shopify/flash-list";
import { router, Stack } from "expo-router";
import { useEffect, useState } from "react";
import { View } from "react-native";
import { useStore } from "zustand";

import { NotificationRow } from "../../src/components/discovery/NotificationRow";
import type { NotificationView } from "../../src/protocol/types";
import { useGrover } from "../../src/runtime/grover";
import { hrefOf, notificationsPart } from "../../src/stores/notifications";
import { describe } from "../../src/ui/errors";
import { Button, Divider, EmptyState, ErrorState, LoadingState, Row, Screen, Text } from "../../src/ui/kit";
import { space, useTheme } from "../../src/ui/theme";

/** The inbox: newest activity first, unread ones marked, a tap opens what it is about. */
export default function Notifications() {
  const store = useGrover().part(notificationsPart);
  const { items, unread, status, error, loadingMore } = useStore(store);
  const { colors } = useTheme();
  const [problem, setProblem] = useState<string | null>(null);
  const [marking, setMarking] = useState(false);
  const [refreshing, setRefreshing] = useState(false);

  useEffect(() => {
    // Opening the inbox shows it as it is now, not as it was when the bell first loaded it.
    void store.getState().refresh();
  }, [store]);

  const open = (n: NotificationView) => {
    setProblem(null);
    store
      .getState()
      .markRead(n.id)
      .catch((e: unknown) => setProblem(describe(e)));
    const href = hrefOf(n);
    if (href !== null) router.push(href);
  };
  const markAll = () => {
    setProblem(null);
    setMarking(true);
    store
      .getState()
      .markAllRead()
      .catch((e: unknown) => setProblem(describe(e)))
      .finally(() => setMarking(false));
  };

  let body;
  if (status === "error" && items.length === 0) {
    body = <ErrorState message={describe(error)} onRetry={() => void store.getState().refresh()} />;
  } else if (status !== "ready" && items.length === 0) {
    body = <LoadingState label="Loading notifications…" />;
  } else if (items.length === 0) {
    body = (
      <EmptyState
        title="No notifications yet"
        hint="When people follow you, like or comment on your posts, or mention you, it shows up here."
      />
    );
  } else {
    body = (
      <FlashList
        testID="notification-list"
        data={items}
        keyExtractor={(n) => n.id}
        extraData={items}
        ItemSeparatorComponent={Divider}
        renderItem={({ item }) => <NotificationRow notification={item} onPress={() => open(item)} />}
        onEndReached={() => void store.getState().loadMore()}
        ListFooterComponent={loadingMore ? <LoadingState /> : null}
        refreshing={refreshing}
        onRefresh={() => {
          setRefreshing(true);
          void store
            .getState()
            .refresh()
            .finally(() => setRefreshing(false));
        }}
      />
    );
  }

  return (
    <Screen testID="notifications-screen" edges={["bottom"]}>
      <Stack.Screen options={{ title: "Notifications" }} />
      <Row
        style={{
          justifyContent: "space-between",
          paddingHorizontal: space.lg,
          paddingVertical: space.md,
          borderBottomWidth: 1,
          borderBottomColor: colors.border,
        }}
      >
        <Text muted testID="notification-summary">
          {unread === 0 ? "You're all caught up" : unread === 1 ? "1 unread" : `${unread} unread`}
        </Text>
        <Row>
          <Button
            testID="notification-settings"
            title="Settings"
            kind="ghost"
            small
            onPress={() => router.push("/settings")}
          />
          <Button
            testID="mark-all-read"
            title="Mark all read"
            kind="secondary"
            small
            busy={marking}
            disabled={unread === 0 && items.every((n) => n.read)}
            onPress={markAll}
          />
        </Row>
      </Row>
      {problem !== null || (status === "error" && items.length > 0) ? (
        <View style={{ paddingHorizontal: space.lg, paddingTop: space.sm }}>
          <Text variant="caption" color={colors.danger}>
            {problem ?? describe(error)}
          </Text>
        </View>
      ) : null}
      <View style={{ flex: 1 }}>{body}</View>
    </Screen>
  );
}
