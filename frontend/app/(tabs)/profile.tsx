/**
 * Me: my picture, names, bio and counts (fresh from the server), editing
 * them, my shop, my posts, and the way to Settings and Orders.
 */
import * as ImagePicker from "expo-image-picker";
import { router } from "expo-router";
import { useEffect, useState } from "react";
import { View } from "react-native";
import { useStore } from "zustand";

import { PostFeed } from "../../src/components/PostFeed";
import { ShopSection } from "../../src/components/ShopSection";
import { ProfileHeader } from "../../src/components/UserCard";
import { uploadErrorText, uploadMedia } from "../../src/media/upload";
import { LIMITS, type UserProfile } from "../../src/protocol/types";
import { useGrover } from "../../src/runtime/grover";
import { emptyList } from "../../src/stores/posts";
import { profileOf, profilesOf } from "../../src/stores/profiles";
import { describe } from "../../src/ui/errors";
import { Avatar, Button, Card, EmptyState, LoadingState, Row, Screen, Text, TextField } from "../../src/ui/kit";
import { space, useTheme } from "../../src/ui/theme";

function EditProfile(props: { me: UserProfile; onDone: () => void }) {
  const grover = useGrover();
  const profiles = grover.part(profilesOf);
  const { colors } = useTheme();
  const [name, setName] = useState(props.me.display_name);
  const [bio, setBio] = useState(props.me.bio);
  const [avatar, setAvatar] = useState<{ id: string; url: string } | null>(null);
  const [progress, setProgress] = useState<number | null>(null);
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const pickAvatar = async () => {
    setError(null);
    const result = await ImagePicker.launchImageLibraryAsync({ mediaTypes: ["images"], allowsEditing: true, aspect: [1, 1], quality: 0.9 });
    const asset = result.canceled ? undefined : result.assets[0];
    if (asset === undefined) return;
    setProgress(0);
    try {
      const media = await uploadMedia(grover, asset, setProgress);
      setAvatar({ id: media.id, url: media.thumbnail_url ?? media.url });
    } catch (e) {
      setError(uploadErrorText(e));
    } finally {
      setProgress(null);
    }
  };

  const save = async () => {
    setSaving(true);
    setError(null);
    try {
      await profiles.getState().updateMe({
        display_name: name.trim(),
        bio: bio.trim(),
        ...(avatar ? { avatar_media_id: avatar.id } : {}),
      });
      props.onDone();
    } catch (e) {
      setError(describe(e));
    } finally {
      setSaving(false);
    }
  };

  return (
    <Card testID="profile-edit" style={{ gap: space.md, width: "100%" }}>
      <Row gap={space.md}>
        <Avatar name={name || props.me.username} uri={avatar?.url ?? (props.me.avatar_url || null)} size={56} />
        <Button kind="secondary" small title="Change photo" onPress={() => void pickAvatar()} busy={progress !== null} testID="profile-edit-photo" />
        {progress !== null ? <Text variant="caption" muted>{Math.round(progress * 100)}%</Text> : null}
      </Row>
      <TextField testID="profile-edit-name" label="Display name" value={name} onChangeText={setName} maxLength={LIMITS.DISPLAY_NAME_MAX} />
      <TextField
        testID="profile-edit-bio"
        label="Bio"
        value={bio}
        onChangeText={setBio}
        multiline
        maxLength={LIMITS.BIO_MAX}
        style={{ minHeight: 80, textAlignVertical: "top" }}
      />
      {error ? (
        <Text variant="caption" color={colors.danger} testID="profile-edit-error">
          {error}
        </Text>
      ) : null}
      <Row style={{ justifyContent: "flex-end" }}>
        <Button kind="ghost" title="Cancel" onPress={props.onDone} testID="profile-edit-cancel" />
        <Button title="Save" busy={saving} disabled={progress !== null} onPress={() => void save()} testID="profile-edit-save" />
      </Row>
    </Card>
  );
}

export default function Profile() {
  const grover = useGrover();
  const profiles = grover.part(profilesOf);
  const session = useStore(grover.session, (s) => s.user);
  const myId = session?.id ?? "";
  const fresh = useStore(profiles, (s) => s.users[myId]);
  const loading = useStore(profiles, (s) => s.loading[myId]);
  const list = useStore(profiles, (s) => s.posts[myId]) ?? emptyList;
  const { colors } = useTheme();
  const [editing, setEditing] = useState(false);

  useEffect(() => {
    if (!myId) return;
    void profiles.getState().load(myId).catch(() => undefined);
    void profiles.getState().loadPosts(myId).catch(() => undefined);
  }, [profiles, myId]);

  if (session === null) return <Screen><LoadingState /></Screen>;
  const me = fresh ?? profileOf(session);

  const header = (
    <View style={{ paddingHorizontal: space.lg, gap: space.md, alignItems: "center" }}>
      {editing ? (
        <View style={{ paddingTop: space.lg, width: "100%" }}>
          <EditProfile me={me} onDone={() => setEditing(false)} />
        </View>
      ) : (
        <ProfileHeader
          user={me}
          actions={
            <Row gap={space.sm}>
              <Button small title="Edit profile" onPress={() => setEditing(true)} testID="profile-edit-open" />
              <Button small kind="secondary" title="Orders" onPress={() => router.push("/orders")} testID="profile-orders" />
              <Button small kind="secondary" title="Settings" onPress={() => router.push("/settings")} testID="profile-settings" />
            </Row>
          }
        />
      )}
      {loading?.status === "error" && fresh === undefined ? (
        <Text variant="caption" color={colors.danger}>
          {describe(loading.error)}
        </Text>
      ) : null}
      <View style={{ width: "100%" }}>
        <ShopSection sellerId={me.id} />
      </View>
      <Text variant="label" style={{ alignSelf: "flex-start", paddingTop: space.sm }}>
        Posts
      </Text>
    </View>
  );

  return (
    <Screen testID="profile-screen">
      <PostFeed
        testID="profile-posts"
        list={list}
        header={header}
        empty={
          <EmptyState
            title="No posts yet"
            hint="What you share shows up here."
            action={<Button title="Create a post" onPress={() => router.push("/create")} testID="profile-create" />}
          />
        }
        refresh={() => Promise.all([profiles.getState().load(myId), profiles.getState().refreshPosts(myId)])}
        loadMore={() => profiles.getState().loadMorePosts(myId)}
      />
    </Screen>
  );
}
