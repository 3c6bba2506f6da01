/**
 * One message in a conversation: mine on the right in the accent colour,
 * others' on the left, with the sender's name where it helps (groups), its
 * state while it is being sent or when it was refused, and "Seen" under my
 * last message once it was read.
 */
import { View } from "react-native";

import { Button, Row, Text } from "../ui/kit";
import { radius, space, useTheme } from "../ui/theme";

export interface MessageBubbleProps {
  text: string;
  mine: boolean;
  /** The sender's name, shown above the first of their messages in a group. */
  sender?: string | null;
  /** When it was sent, already worded ("14:05"). */
  time?: string | null;
  deleted?: boolean;
  edited?: boolean;
  /** A message not yet acknowledged: sending, or refused (`failure` says why). */
  status?: "sending" | "failed" | null;
  failure?: string | null;
  onRetry?: () => void;
  onDiscard?: () => void;
  /** "Seen", or "Seen by …": shown under it. */
  seen?: string | null;
}

/** A message's time of day in the reader's locale ("14:05"). */
export function messageTime(seconds: number): string {
  return new Date(seconds * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

export function MessageBubble(props: MessageBubbleProps) {
  const { colors } = useTheme();
  const mine = props.mine;
  const foreground = mine ? colors.onPrimary : colors.text;
  const failed = props.status === "failed";
  return (
    <View
      testID={props.status ? "message-pending" : "message"}
      style={{
        paddingHorizontal: space.lg,
        paddingVertical: space.xs / 2,
        alignItems: mine ? "flex-end" : "flex-start",
      }}
    >
      {props.sender ? (
        <Text testID="message-sender" variant="caption" muted style={{ marginTop: space.sm, marginBottom: 2, marginHorizontal: space.sm }}>
          {props.sender}
        </Text>
      ) : null}
      <View
        style={{
          maxWidth: "80%",
          backgroundColor: mine ? colors.primary : colors.surface,
          borderColor: failed ? colors.danger : mine ? colors.primary : colors.border,
          borderWidth: 1,
          borderRadius: radius.lg,
          borderBottomRightRadius: mine ? radius.sm : radius.lg,
          borderBottomLeftRadius: mine ? radius.lg : radius.sm,
          paddingHorizontal: space.md,
          paddingVertical: space.sm,
          opacity: props.status === "sending" ? 0.7 : 1,
        }}
      >
        {props.deleted ? (
          <Text color={foreground} style={{ fontStyle: "italic", opacity: 0.8 }}>
            Message deleted
          </Text>
        ) : (
          <Text testID="message-text" color={foreground}>
            {props.text}
          </Text>
        )}
        {props.time || props.edited ? (
          <Text variant="caption" color={foreground} style={{ opacity: 0.7, alignSelf: "flex-end" }}>
            {[props.edited ? "edited" : null, props.time].filter(Boolean).join(" · ")}
          </Text>
        ) : null}
      </View>
      {props.status === "sending" ? (
        <Text testID="sending" variant="caption" muted style={{ marginTop: 2 }}>
          Sending…
        </Text>
      ) : null}
      {failed ? (
        <View style={{ alignItems: "flex-end", gap: space.xs, marginTop: 2 }}>
          <Text testID="send-failed" variant="caption" color={colors.danger}>
            Not sent. {props.failure ?? ""}
          </Text>
          <Row gap={space.xs}>
            {props.onDiscard ? <Button testID="discard" title="Delete" kind="ghost" small onPress={props.onDiscard} /> : null}
            {props.onRetry ? <Button testID="retry" title="Retry" kind="secondary" small onPress={props.onRetry} /> : null}
          </Row>
        </View>
      ) : null}
      {props.seen ? (
        <Text testID="seen" variant="caption" muted style={{ marginTop: 2 }}>
          {props.seen}
        </Text>
      ) : null}
    </View>
  );
}
