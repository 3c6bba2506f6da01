import { FlashList } from "@shopify/flash-list";
import { router } from "expo-router";
import { useCallback, useEffect, useState } from "react";
import { View } from "react-native";
import { useStore } from "zustand";

import { ConversationRow } from "../../src/components/ConversationRow";
import { useGrover } from "../../src/runtime/grover";
import { describe } from "../../src/ui/errors";
import { Button, Divider, EmptyState, ErrorState, LoadingState, Row, Screen, Text } from "../../src/ui/kit";
import { space } from "../../src/ui/theme";

/** The conversation list, most recent first, live. */
export default function Messages() {
  const grover = useGrover();
  const chat = grover.chat;
  const me = useStore(grover.session, (s) => s.user?.id ?? null);
  const summaries = useStore(chat, (s) => s.summaries);
  const loaded = useStore(chat, (s) => s.listLoaded);
  const [error, setError] = useState<string | null>(null);
  const [refreshing, setRefreshing] = useState(false);

  const refresh = useCallback(async () => {
    setError(null);
    try {
      await chat.getState().refresh();
    } catch (problem) {
      setError(describe(problem));
    }
  }, [chat]);

  useEffect(() => {
    void refresh();
  }, [refresh]);

  const startNew = () => router.push("/conversation/new");

  let body;
  if (!loaded && error !== null) body = <ErrorState message={error} onRetry={() => void refresh()} />;
  else if (!loaded) body = <LoadingState label="Loading conversations…" />;
  else if (summaries.length === 0) {
    body = (
      <EmptyState
        title="No conversations yet"
        hint="Say hello to someone: find them by their username."
        action={<Button testID="empty-new-conversation" title="Start a conversation" onPress={startNew} />}
      />
    );
  } else {
    body = (
      <FlashList
        testID="conversation-list"
        data={summaries}
        keyExtractor={(s) => s.id}
        renderItem={({ item }) => (
          <ConversationRow summary={item} me={me} onOpen={() => router.push("/conversation/" + item.id)} />
        )}
        ItemSeparatorComponent={Divider}
        refreshing={refreshing}
        onRefresh={() => {
          setRefreshing(true);
          void refresh().finally(() => setRefreshing(false));
        }}
        onEndReached={() => void chat.getState().loadMoreConversations().catch(() => undefined)}
      />
    );
  }

  return (
    <Screen testID="messages-screen">
      <Row style={{ paddingHorizontal: space.lg, paddingVertical: space.md, justifyContent: "space-between" }}>
        <Text variant="display">Messages</Text>
        <Button testID="new-conversation" title="New" small onPress={startNew} />
      </Row>
      {loaded && error !== null ? (
        <View style={{ paddingHorizontal: space.lg, paddingBottom: space.sm }}>
          <Text variant="caption" muted>
            {error}
          </Text>
        </View>
      ) : null}
      <View style={{ flex: 1 }}>{body}</View>
    </Screen>
  );
}
