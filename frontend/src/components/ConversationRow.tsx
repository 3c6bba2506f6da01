/**
 * A row of the conversation list: who (the other member, or the group's
 * name), the last message or "typing…", when, and how many are unread.
 */
import { Pressable, View } from "react-native";
import { useStore } from "zustand";

import type { ConversationSummary } from "../protocol/types";
import { useGrover } from "../runtime/grover";
import { conversationName, partnerOf, personName, typingIn } from "../stores/chat";
import { Avatar, Badge, Row, Text, ago } from "../ui/kit";
import { space, useTheme } from "../ui/theme";

export function ConversationRow(props: { summary: ConversationSummary; me: string | null; onOpen: () => void }) {
  const { summary, me } = props;
  const chat = useGrover().chat;
  const { colors } = useTheme();
  const name = useStore(chat, (s) => conversationName(s, summary.id, me));
  const avatar = useStore(chat, (s) => {
    if (summary.kind !== "direct") return null;
    const partner = partnerOf(s, summary.id, me);
    return (partner === null ? null : s.people[partner]?.avatar_url) || null;
  });
  const typing = useStore(chat, (s) => typingIn(s, summary.id).length > 0);
  const sender = useStore(chat, (s) =>
    summary.last_sender_id === null ? null : personName(s.people[summary.last_sender_id]),
  );
  const unread = summary.unread > 0;
  let preview = summary.last_preview || "No messages yet";
  if (summary.last_preview && summary.last_sender_id === me) preview = `You: ${preview}`;
  else if (summary.last_preview && summary.kind === "group" && sender !== null) preview = `${sender}: ${preview}`;
  return (
    <Pressable
      testID={`conversation-${summary.id}`}
      accessibilityRole="button"
      onPress={props.onOpen}
      style={({ pressed }) => ({
        backgroundColor: pressed ? colors.surfaceMuted : colors.background,
        paddingHorizontal: space.lg,
        paddingVertical: space.md,
      })}
    >
      <Row gap={space.md}>
        <Avatar name={name} uri={avatar} size={48} />
        <View style={{ flex: 1, gap: 2 }}>
          <Row>
            <Text testID="conversation-name" variant="label" numberOfLines={1} style={{ flex: 1 }}>
              {name}
            </Text>
            {summary.last_preview ? (
              <Text variant="caption" muted>
                {ago(summary.last_activity_at)}
              </Text>
            ) : null}
          </Row>
          <Row>
            {typing ? (
              <Text testID={`typing-${summary.id}`} color={colors.primary} numberOfLines={1} style={{ flex: 1 }}>
                typing…
              </Text>
            ) : (
              <Text
                muted={!unread}
                numberOfLines={1}
                style={[{ flex: 1 }, unread ? { fontWeight: "600" } : null]}
              >
                {preview}
              </Text>
            )}
            <Badge testID={`unread-${summary.id}`} count={summary.unread} />
          </Row>
        </View>
      </Row>
    </Pressable>
  );
}
