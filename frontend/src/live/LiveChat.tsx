/**
 * A stream's live chat, newest at the bottom, with the lines being sent and a
 * composer while the room is joined.
 */
import { FlashList, type FlashListRef } from "@shopify/flash-list";
import { useEffect, useRef, useState } from "react";
import { View } from "react-native";

import type { ChatLine } from "../protocol/types";
import type { LiveRoom, PendingLine } from "../stores/live";
import { errorText } from "../ui/errors";
import { Button, Row, Text, TextField } from "../ui/kit";
import { space, useTheme } from "../ui/theme";
import { ChatRow } from "./LiveRoom";

function PendingRow(props: { pending: PendingLine; onRetry: () => void; onDiscard: () => void }) {
  const { colors } = useTheme();
  const { pending } = props;
  return (
    <View testID="live-chat-pending" style={{ paddingHorizontal: space.lg, paddingVertical: space.xs + 2, gap: space.xs }}>
      <Text muted>{pending.text}</Text>
      {pending.failed === null ? (
        <Text variant="caption" muted>
          Sending…
        </Text>
      ) : (
        <Row>
          <Text variant="caption" color={colors.danger} style={{ flexShrink: 1 }}>
            {errorText(pending.failed)}
          </Text>
          <Button small kind="ghost" title="Retry" onPress={props.onRetry} />
          <Button small kind="ghost" title="Discard" onPress={props.onDiscard} />
        </Row>
      )}
    </View>
  );
}

type Item = { kind: "line"; line: ChatLine } | { kind: "pending"; pending: PendingLine };

export interface Moderation {
  pin(line: ChatLine): void;
  remove(line: ChatLine): void;
}

/**
 * The stream's chat, newest at the bottom, and a composer while the room is
 * joined. With `moderation` (the host), tapping someone's line offers to pin
 * it or remove its author from the stream.
 */
export function LiveChat(props: {
  room: LiveRoom;
  onSend(text: string): Promise<void>;
  onRetry(clientKey: string): void;
  onDiscard(clientKey: string): void;
  moderation?: Moderation;
}) {
  const { colors } = useTheme();
  const { room } = props;
  const [text, setText] = useState("");
  const [selected, setSelected] = useState<string | null>(null);
  const list = useRef<FlashListRef<Item>>(null);
  const items: Item[] = [
    ...room.lines.map((line): Item => ({ kind: "line", line })),
    ...room.pending.map((pending): Item => ({ kind: "pending", pending })),
  ];
  const count = items.length;
  useEffect(() => {
    if (count > 0) list.current?.scrollToEnd({ animated: true });
  }, [count]);

  const submit = () => {
    const said = text.trim();
    if (said === "") return;
    setText("");
    // A failure stays in the list as a pending line with Retry.
    props.onSend(said).catch(() => undefined);
  };
  const pinned = room.stream.pinned;
  const hostId = room.stream.host.id;

  return (
    <View style={{ flex: 1 }}>
      {pinned ? (
        <View
          testID="live-chat-pinned"
          style={{ backgroundColor: colors.surface, borderBottomColor: colors.border, borderBottomWidth: 1, paddingVertical: space.xs }}
        >
          <Text variant="caption" muted style={{ paddingHorizontal: space.lg }}>
            Pinned
          </Text>
          <ChatRow line={pinned} hostId={hostId} testID="live-chat-pinned-line" />
        </View>
      ) : null}
      {count === 0 ? (
        <View style={{ flex: 1, alignItems: "center", justifyContent: "center", padding: space.xl }}>
          <Text muted style={{ textAlign: "center" }}>
            {room.joined ? "No messages yet. Say hello!" : "The chat is closed."}
          </Text>
        </View>
      ) : (
        <View style={{ flex: 1 }}>
          <FlashList
            ref={list}
            data={items}
            keyExtractor={(item) => (item.kind === "line" ? item.line.id : `pending:${item.pending.clientKey}`)}
            getItemType={(item) => item.kind}
            maintainVisibleContentPosition={{ startRenderingFromBottom: true, autoscrollToBottomThreshold: 0.2 }}
            renderItem={({ item }) => {
              if (item.kind === "pending") {
                const key = item.pending.clientKey;
                return <PendingRow pending={item.pending} onRetry={() => props.onRetry(key)} onDiscard={() => props.onDiscard(key)} />;
              }
              const { line } = item;
              const canModerate = props.moderation !== undefined && room.joined && line.author.id !== hostId;
              const moderation = props.moderation;
              return (
                <View>
                  <ChatRow
                    line={line}
                    hostId={hostId}
                    selected={selected === line.id}
                    onPress={canModerate ? () => setSelected(selected === line.id ? null : line.id) : undefined}
                  />
                  {canModerate && moderation && selected === line.id ? (
                    <Row style={{ paddingHorizontal: space.lg, paddingBottom: space.xs }}>
                      <Button small kind="secondary" title="Pin" onPress={() => (setSelected(null), moderation.pin(line))} />
                      <Button
                        small
                        kind="danger"
                        title={`Remove @${line.author.username}`}
                        onPress={() => (setSelected(null), moderation.remove(line))}
                      />
                    </Row>
                  ) : null}
                </View>
              );
            }}
          />
        </View>
      )}
      {room.joined ? (
        <Row style={{ padding: space.md, borderTopColor: colors.border, borderTopWidth: 1, backgroundColor: colors.surface }}>
          <View style={{ flex: 1 }}>
            <TextField
              testID="live-chat-input"
              placeholder="Say something…"
              value={text}
              maxLength={500}
              onChangeText={setText}
              onSubmitEditing={submit}
              returnKeyType="send"
            />
          </View>
          <Button testID="live-chat-send" title="Send" disabled={text.trim() === ""} onPress={submit} />
        </Row>
      ) : null}
    </View>
  );
}
