import { FlashList, type FlashListRef } from "@shopify/flash-list";
import { Stack, useFocusEffect, useLocalSearchParams } from "expo-router";
import { useHeaderHeight } from "expo-router/react-navigation";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { KeyboardAvoidingView, Platform, View } from "react-native";
import { useStore } from "zustand";

import { MessageBubble, messageTime } from "../../../src/components/MessageBubble";
import { MessageComposer } from "../../../src/components/MessageComposer";
import type { MessageView } from "../../../src/protocol/types";
import { useGrover } from "../../../src/runtime/grover";
import {
  type PendingMessage,
  conversationName,
  myLastMessage,
  personName,
  seenBy,
  typingIn,
} from "../../../src/stores/chat";
import { describe } from "../../../src/ui/errors";
import { EmptyState, ErrorState, LoadingState, Screen, Text } from "../../../src/ui/kit";
import { space, type, useTheme } from "../../../src/ui/theme";

type Item = { key: string; message: MessageView } | { key: string; pending: PendingMessage };

const NO_MESSAGES: MessageView[] = [];
const NO_PENDING: PendingMessage[] = [];

/** One conversation: its messages, newest at the bottom, and the composer. */
export default function Conversation() {
  const { id } = useLocalSearchParams<{ id: string }>();
  const grover = useGrover();
  const chat = grover.chat;
  const { colors } = useTheme();
  const headerHeight = useHeaderHeight();
  const me = useStore(grover.session, (s) => s.user?.id ?? null);
  const messages = useStore(chat, (s) => s.messages[id] ?? NO_MESSAGES);
  const loaded = useStore(chat, (s) => s.messages[id] !== undefined);
  const pending = useStore(chat, (s) => s.pending[id] ?? NO_PENDING);
  const isGroup = useStore(chat, (s) => s.details[id]?.kind === "group");
  const title = useStore(chat, (s) => conversationName(s, id, me));
  const people = useStore(chat, (s) => s.people);
  const typers = useStore(chat, (s) => typingIn(s, id).join(","));
  const seen = useStore(chat, (s) => seenBy(s, id, me).join(","));
  const mineLast = useStore(chat, (s) => myLastMessage(s, id, me)?.seq ?? null);
  const [error, setError] = useState<string | null>(null);
  const list = useRef<FlashListRef<Item>>(null);

  const load = useCallback(async () => {
    setError(null);
    try {
      await Promise.all([chat.getState().load(id), chat.getState().loadDetails(id)]);
    } catch (problem) {
      setError(describe(problem));
    }
  }, [chat, id]);

  useEffect(() => {
    void load();
  }, [load]);

  // Read while on screen: the store marks what arrives meanwhile.
  useFocusEffect(
    useCallback(() => {
      chat.getState().view(id);
      return () => {
        if (chat.getState().viewing === id) chat.getState().view(null);
      };
    }, [chat, id]),
  );

  const items = useMemo<Item[]>(
    () => [
      ...messages.map((message) => ({ key: `m${message.seq}`, message })),
      ...pending.map((p) => ({ key: `p${p.clientKey}`, pending: p })),
    ],
    [messages, pending],
  );

  const nameOf = (userId: string) => personName(people[userId]) ?? "Someone";
  const seenLabel = (() => {
    const readers = seen === "" ? [] : seen.split(",");
    if (readers.length === 0) return null;
    return isGroup ? `Seen by ${readers.map(nameOf).join(", ")}` : "Seen";
  })();
  const typingLabel = (() => {
    const who = typers === "" ? [] : typers.split(",").map(nameOf);
    if (who.length === 0) return null;
    if (who.length === 1) return `${who[0]} is typing…`;
    if (who.length === 2) return `${who[0]} and ${who[1]} are typing…`;
    return "Several people are typing…";
  })();

  const send = (text: string) => {
    chat
      .getState()
      .send(id, text)
      .catch(() => undefined); // kept in the list as not sent, with the reason
    list.current?.scrollToEnd({ animated: true });
  };

  // What rows show besides their item: a change re-renders them.
  const rendering = useMemo(() => ({ seenLabel, isGroup, people, mineLast }), [seenLabel, isGroup, people, mineLast]);

  const renderItem = ({ item, index }: { item: Item; index: number }) => {
    if ("pending" in item) {
      const p = item.pending;
      return (
        <MessageBubble
          mine
          text={p.text}
          status={p.failed === null ? "sending" : "failed"}
          failure={p.failed}
          onRetry={() => void chat.getState().retry(id, p.clientKey).catch(() => undefined)}
          onDiscard={() => chat.getState().discard(id, p.clientKey)}
        />
      );
    }
    const m = item.message;
    const mine = m.sender_id === me;
    const previous = items[index - 1];
    const firstOfRun = previous === undefined || !("message" in previous) || previous.message.sender_id !== m.sender_id;
    return (
      <MessageBubble
        mine={mine}
        text={m.text}
        deleted={m.deleted}
        edited={m.edited_at !== null}
        time={messageTime(m.created_at)}
        sender={isGroup && !mine && firstOfRun ? nameOf(m.sender_id) : null}
        seen={mine && m.seq === mineLast ? seenLabel : null}
      />
    );
  };

  let body;
  if (!loaded && error !== null) body = <ErrorState message={error} onRetry={() => void load()} />;
  else if (!loaded) body = <LoadingState label="Loading messages…" />;
  else if (items.length === 0) body = <EmptyState title="No messages yet" hint={`Say hello to ${title}.`} />;
  else {
    body = (
      <FlashList
        ref={list}
        testID="message-list"
        data={items}
        keyExtractor={(item) => item.key}
        renderItem={renderItem}
        extraData={rendering}
        getItemType={(item) => ("pending" in item ? "pending" : "message")}
        maintainVisibleContentPosition={{ startRenderingFromBottom: true, autoscrollToBottomThreshold: 0.2 }}
        onStartReached={() => void chat.getState().loadOlder(id).catch(() => undefined)}
        contentContainerStyle={{ paddingVertical: space.sm }}
      />
    );
  }

  return (
    <Screen edges={["bottom"]} testID="conversation-screen">
      <Stack.Screen options={{ title }} />
      <KeyboardAvoidingView
        style={{ flex: 1 }}
        behavior={Platform.OS === "ios" ? "padding" : undefined}
        keyboardVerticalOffset={headerHeight}
      >
        <View style={{ flex: 1 }}>{body}</View>
        {loaded && error !== null ? (
          <Text variant="caption" color={colors.danger} style={{ paddingHorizontal: space.lg }}>
            {error}
          </Text>
        ) : null}
        <View style={{ minHeight: type.caption.lineHeight + space.xs, paddingHorizontal: space.lg }}>
          {typingLabel !== null ? (
            <Text testID="typing" variant="caption" muted>
              {typingLabel}
            </Text>
          ) : null}
        </View>
        <MessageComposer onSend={send} onTyping={() => chat.getState().typed(id)} />
      </KeyboardAvoidingView>
    </Screen>
  );
}
