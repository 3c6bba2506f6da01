/**
 * A user in a list (`UserCard`): avatar, name, @username and a follow button
 * (not on oneself); a tap opens their page. Follow state comes from the
 * profiles store once known there, so it matches their page. Also the top
 * of a user's page (`ProfileHeader`), theirs or mine.
 */
import { router } from "expo-router";
import { type ReactNode, useState } from "react";
import { Pressable, View } from "react-native";
import { useStore } from "zustand";

import type { UserProfile } from "../protocol/types";
import { useGrover } from "../runtime/grover";
import { profilesOf } from "../stores/profiles";
import { describe } from "../ui/errors";
import { Avatar, Button, Text } from "../ui/kit";
import { space, useTheme } from "../ui/theme";

export function UserCard({ user }: { user: UserProfile }) {
  const grover = useGrover();
  const profiles = grover.part(profilesOf);
  const live = useStore(profiles, (s) => s.users[user.id]) ?? user;
  const busy = useStore(profiles, (s) => s.following[user.id] === true);
  const me = useStore(grover.session, (s) => s.user?.id);
  const { colors } = useTheme();
  const [error, setError] = useState<string | null>(null);
  const name = live.display_name || live.username;

  const toggle = () => {
    setError(null);
    const state = profiles.getState();
    (live.i_follow ? state.unfollow(user.id) : state.follow(user.id)).catch((e: unknown) => setError(describe(e)));
  };

  return (
    <Pressable
      testID="user-card"
      accessibilityRole="link"
      onPress={() => router.push(`/user/${user.id}`)}
      style={{ flexDirection: "row", alignItems: "center", gap: space.md, paddingVertical: space.sm }}
    >
      <Avatar name={name} uri={live.avatar_url || null} size={44} />
      <View style={{ flex: 1 }}>
        <Text variant="label" numberOfLines={1}>
          {name}
        </Text>
        <Text variant="caption" muted numberOfLines={1}>
          @{live.username}
          {live.follows_me ? " · follows you" : ""}
        </Text>
        {error ? (
          <Text variant="caption" color={colors.danger}>
            {error}
          </Text>
        ) : null}
      </View>
      {me !== undefined && me !== user.id ? (
        <Button
          testID="user-card-follow"
          small
          kind={live.i_follow ? "secondary" : "primary"}
          title={live.i_follow ? "Following" : "Follow"}
          busy={busy}
          onPress={toggle}
        />
      ) : null}
    </Pressable>
  );
}

function Count(props: { value: number; label: string; testID: string }) {
  return (
    <View style={{ alignItems: "center", minWidth: 72 }}>
      <Text variant="title" testID={props.testID}>
        {props.value}
      </Text>
      <Text variant="caption" muted>
        {props.label}
      </Text>
    </View>
  );
}

/** The top of a user's page (theirs or mine): picture, names, bio, counts, then `actions`. */
export function ProfileHeader(props: { user: UserProfile; actions?: ReactNode; badge?: string | null }) {
  const { user } = props;
  const { colors } = useTheme();
  return (
    <View testID="profile-header" style={{ alignItems: "center", gap: space.sm, paddingVertical: space.lg }}>
      <Avatar name={user.display_name || user.username} uri={user.avatar_url || null} size={88} />
      <View style={{ alignItems: "center" }}>
        <Text variant="title" testID="profile-name">
          {user.display_name || user.username}
        </Text>
        <Text muted testID="profile-username">
          @{user.username}
          {props.badge ? " · " : ""}
          {props.badge ? (
            <Text variant="caption" color={colors.primary}>
              {props.badge}
            </Text>
          ) : null}
        </Text>
      </View>
      {user.bio ? (
        <Text testID="profile-bio" style={{ textAlign: "center", maxWidth: 420 }}>
          {user.bio}
        </Text>
      ) : null}
      <View style={{ flexDirection: "row", justifyContent: "center", gap: space.lg, paddingVertical: space.sm }}>
        <Count value={user.posts_count} label="Posts" testID="profile-posts-count" />
        <Count value={user.followers_count} label="Followers" testID="profile-followers-count" />
        <Count value={user.following_count} label="Following" testID="profile-following-count" />
      </View>
      {props.actions}
    </View>
  );
}
