/** One row of the inbox: who, what they did, how long ago; unread ones stand out. */
import { Pressable, View } from "react-native";

import type { NotificationKind } from "../../stores/notifications";
import type { NotificationView } from "../../protocol/types";
import { Avatar, Text, ago } from "../../ui/kit";
import { radius, space, useTheme } from "../../ui/theme";

const ACTION: Record<NotificationKind, string> = {
  follow: "started following you",
  like_post: "liked your post",
  like_comment: "liked your comment",
  comment: "commented on your post",
  reply: "replied to your comment",
  mention: "mentioned you",
  stream_live: "is live now",
  tip: "sent you a tip",
  order: "bought",
  payout: "",
};

/** A glyph per kind, drawn from characters every platform's fonts have. */
const GLYPH: Record<NotificationKind, string> = {
  follow: "+",
  like_post: "♥",
  like_comment: "♥",
  comment: "✎",
  reply: "↩",
  mention: "@",
  stream_live: "●",
  tip: "$",
  order: "$",
  payout: "$",
};

const PAYOUT: Record<string, string> = {
  succeeded: "Your payout was sent.",
  failed: "Your payout failed. Check your payout details.",
  returned: "Your payout was returned.",
};

/** "ada", "ada and bo", "ada and 4 others". */
export function actorsText(n: NotificationView): string {
  const first = n.actors[0];
  if (first === undefined) return "Someone";
  const name = first.display_name || first.username;
  const others = n.actor_count - 1;
  if (others <= 0) return name;
  const second = n.actors[1];
  if (others === 1 && second !== undefined) return `${name} and ${second.display_name || second.username}`;
  return `${name} and ${others} ${others === 1 ? "other" : "others"}`;
}

/** The sentence for a notification, split so the names can be bold. */
export function sentenceOf(n: NotificationView): { who: string; what: string; quote: string } {
  if (n.kind === "payout") return { who: "", what: PAYOUT[n.text] ?? `Payout ${n.text}.`, quote: "" };
  if (n.kind === "order") return { who: actorsText(n), what: `bought ${n.text ? `“${n.text}”` : "from your shop"}`, quote: "" };
  return { who: actorsText(n), what: ACTION[n.kind], quote: n.text };
}

export function NotificationRow(props: { notification: NotificationView; onPress: () => void; now?: number }) {
  const { colors } = useTheme();
  const n = props.notification;
  const { who, what, quote } = sentenceOf(n);
  const actor = n.actors[0];
  return (
    <Pressable
      testID={`notification-${n.id}`}
      accessibilityRole="button"
      onPress={props.onPress}
      style={({ pressed }) => ({
        flexDirection: "row",
        alignItems: "flex-start",
        gap: space.md,
        paddingVertical: space.md,
        paddingHorizontal: space.lg,
        backgroundColor: n.read ? colors.background : colors.surface,
        borderLeftWidth: 3,
        borderLeftColor: n.read ? "transparent" : colors.primary,
        opacity: pressed ? 0.7 : 1,
      })}
    >
      <View>
        <Avatar name={actor ? actor.display_name || actor.username : "$"} uri={actor?.avatar_url} size={44} />
        <View
          style={{
            position: "absolute",
            right: -4,
            bottom: -4,
            width: 22,
            height: 22,
            borderRadius: radius.round,
            alignItems: "center",
            justifyContent: "center",
            backgroundColor: n.kind === "stream_live" ? colors.live : colors.surfaceMuted,
            borderWidth: 2,
            borderColor: n.read ? colors.background : colors.surface,
          }}
        >
          <Text variant="caption" color={n.kind === "stream_live" ? colors.onPrimary : colors.primary}>
            {GLYPH[n.kind]}
          </Text>
        </View>
      </View>
      <View style={{ flex: 1, gap: space.xs }}>
        <Text numberOfLines={3}>
          {who ? <Text variant="label">{who} </Text> : null}
          {what}
        </Text>
        {quote ? (
          <Text muted numberOfLines={2}>
            “{quote}”
          </Text>
        ) : null}
        <Text variant="caption" muted>
          {ago(n.updated_at, props.now)}
        </Text>
      </View>
      {n.read ? null : (
        <View
          testID={`notification-dot-${n.id}`}
          style={{ width: 10, height: 10, borderRadius: radius.round, backgroundColor: colors.primary, marginTop: space.sm }}
        />
      )}
    </Pressable>
  );
}
