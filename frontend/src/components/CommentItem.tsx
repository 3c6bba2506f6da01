/**
 * One comment of a thread, indented by its depth with a thread line, with
 * reply, like and (for its author or the post's) delete. A deleted comment
 * that has replies stays as a placeholder so its replies keep their place.
 */
import { router } from "expo-router";
import { Pressable, View } from "react-native";

import type { CommentView } from "../protocol/types";
import { Avatar, Row, Text, ago } from "../ui/kit";
import { space, useTheme } from "../ui/theme";

/** Indentation stops growing here, so deep threads stay readable on a phone. */
const MAX_INDENT = 4;

export function indentOf(depth: number): number {
  return Math.min(depth, MAX_INDENT) * (space.lg + space.xs);
}

export function CommentItem(props: {
  comment: CommentView;
  depth: number;
  canDelete: boolean;
  onReply: () => void;
  onLike: () => void;
  onDelete: () => void;
}) {
  const { comment, depth } = props;
  const { colors } = useTheme();
  const author = comment.author;
  const name = author.display_name || author.username;
  return (
    <View
      testID="comment-item"
      style={{ paddingLeft: space.lg + indentOf(depth), paddingRight: space.lg, paddingVertical: space.xs }}
    >
      <View
        testID="comment-body"
        style={{
          flexDirection: "row",
          gap: space.sm,
          paddingLeft: depth > 0 ? space.sm : 0,
          borderLeftWidth: depth > 0 ? 2 : 0,
          borderLeftColor: colors.border,
        }}
      >
        {comment.deleted ? null : (
          <Pressable onPress={() => router.push(`/user/${author.id}`)} accessibilityRole="link">
            <Avatar name={name} uri={author.avatar_url || null} size={depth > 0 ? 24 : 30} />
          </Pressable>
        )}
        <View style={{ flex: 1, gap: 2 }}>
          {comment.deleted ? (
            <Text muted style={{ fontStyle: "italic" }} testID="comment-text">
              Comment deleted
            </Text>
          ) : (
            <>
              <Row gap={space.xs}>
                <Text variant="label" numberOfLines={1} style={{ flexShrink: 1 }}>
                  {name}
                </Text>
                <Text variant="caption" muted>
                  {ago(comment.created_at)}
                  {comment.edited_at !== null ? " · edited" : ""}
                </Text>
              </Row>
              <Text testID="comment-text">{comment.text}</Text>
              <Row gap={space.lg} style={{ paddingTop: 2 }}>
                <Pressable testID="comment-reply" onPress={props.onReply} hitSlop={6} accessibilityRole="button">
                  <Text variant="caption" muted style={{ fontWeight: "600" }}>
                    Reply
                  </Text>
                </Pressable>
                <Pressable
                  testID="comment-like"
                  onPress={props.onLike}
                  hitSlop={6}
                  accessibilityRole="button"
                  accessibilityLabel={comment.liked_by_me ? "Unlike comment" : "Like comment"}
                >
                  <Text variant="caption" color={comment.liked_by_me ? colors.live : colors.textMuted} style={{ fontWeight: "600" }}>
                    {comment.liked_by_me ? "♥" : "♡"} {comment.like_count > 0 ? comment.like_count : ""}
                  </Text>
                </Pressable>
                {props.canDelete ? (
                  <Pressable testID="comment-delete" onPress={props.onDelete} hitSlop={6} accessibilityRole="button">
                    <Text variant="caption" color={colors.danger}>
                      Delete
                    </Text>
                  </Pressable>
                ) : null}
              </Row>
            </>
          )}
        </View>
      </View>
    </View>
  );
}
