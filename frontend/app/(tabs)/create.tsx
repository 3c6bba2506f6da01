/**
 * Compose a post: text and up to four photos, each uploaded as soon as it is
 * picked (with its progress), then published with their media ids. The
 * draft stays while you look elsewhere. Also the ways into going live and
 * selling.
 */
import * as ImagePicker from "expo-image-picker";
import { router } from "expo-router";
import { useState } from "react";
import { Pressable, ScrollView, View } from "react-native";
import { useStore } from "zustand";

import { LIMITS } from "../../src/protocol/types";
import { useGrover } from "../../src/runtime/grover";
import { type DraftPhoto, MAX_PHOTOS, canPublish, composerOf } from "../../src/stores/posts";
import { describe } from "../../src/ui/errors";
import { Avatar, Button, Card, Divider, LazyImage, Row, Screen, Text, TextField } from "../../src/ui/kit";
import { radius, space, useTheme } from "../../src/ui/theme";

function PhotoTile(props: { photo: DraftPhoto; index: number; onRemove: () => void; onRetry: () => void }) {
  const { photo, index } = props;
  const { colors } = useTheme();
  const done = photo.media !== null;
  return (
    <View testID={`draft-photo-${index}`} style={{ width: "47%", gap: space.xs }}>
      <View>
        <LazyImage uri={photo.media?.url ?? photo.preview} blurhash={photo.media?.blurhash} aspectRatio={1} />
        <Pressable
          testID={`draft-photo-remove-${index}`}
          accessibilityRole="button"
          accessibilityLabel="Remove photo"
          onPress={props.onRemove}
          hitSlop={8}
          style={{
            position: "absolute",
            top: space.xs,
            right: space.xs,
            width: 26,
            height: 26,
            borderRadius: radius.round,
            backgroundColor: colors.text,
            alignItems: "center",
            justifyContent: "center",
            opacity: 0.85,
          }}
        >
          <Text variant="label" color={colors.background}>
            ×
          </Text>
        </Pressable>
      </View>
      {photo.error ? (
        <Row style={{ justifyContent: "space-between" }}>
          <Text variant="caption" color={colors.danger} style={{ flex: 1 }} testID={`draft-photo-error-${index}`}>
            {photo.error}
          </Text>
          <Button small kind="ghost" title="Retry" onPress={props.onRetry} />
        </Row>
      ) : (
        <View
          testID={done ? `upload-done-${index}` : `upload-progress-${index}`}
          accessibilityRole="progressbar"
          accessibilityValue={{ min: 0, max: 100, now: Math.round(photo.progress * 100) }}
          style={{ height: 4, borderRadius: 2, backgroundColor: colors.surfaceMuted, overflow: "hidden" }}
        >
          <View
            style={{
              height: 4,
              width: `${Math.round(photo.progress * 100)}%`,
              backgroundColor: done ? colors.success : colors.primary,
            }}
          />
        </View>
      )}
    </View>
  );
}

export default function Create() {
  const grover = useGrover();
  const composer = grover.part(composerOf);
  const draft = useStore(composer);
  const me = useStore(grover.session, (s) => s.user);
  const { colors } = useTheme();
  const [pickError, setPickError] = useState<string | null>(null);
  const room = MAX_PHOTOS - draft.photos.length;

  const pick = async () => {
    setPickError(null);
    try {
      const result = await ImagePicker.launchImageLibraryAsync({
        mediaTypes: ["images"],
        allowsMultipleSelection: room > 1,
        selectionLimit: room,
        quality: 0.9,
      });
      if (!result.canceled) await composer.getState().addPhotos(result.assets);
    } catch {
      setPickError("Couldn't open your photos.");
    }
  };

  const publish = async () => {
    try {
      await composer.getState().publish();
      router.navigate("/");
    } catch {
      // shown from the store's error below
    }
  };

  const uploading = draft.photos.some((p) => p.media === null && p.error === null);

  return (
    <Screen testID="create-screen">
      <ScrollView contentContainerStyle={{ padding: space.lg, gap: space.lg, maxWidth: 640, width: "100%", alignSelf: "center" }}>
        <Text variant="display">New post</Text>
        <Card style={{ gap: space.md }}>
          <Row>
            <Avatar name={me?.display_name || me?.username || "?"} uri={me?.avatar_url || null} size={36} />
            <Text variant="label">{me?.display_name || me?.username}</Text>
          </Row>
          <TextField
            testID="create-text"
            placeholder="What's happening? Add #tags and @mentions."
            multiline
            value={draft.text}
            onChangeText={(text) => composer.getState().setText(text)}
            maxLength={LIMITS.POST_TEXT_MAX}
            style={{ minHeight: 110, textAlignVertical: "top" }}
          />
          <Text variant="caption" muted style={{ alignSelf: "flex-end" }}>
            {draft.text.length}/{LIMITS.POST_TEXT_MAX}
          </Text>
          {draft.photos.length > 0 ? (
            <View style={{ flexDirection: "row", flexWrap: "wrap", gap: space.md }}>
              {draft.photos.map((photo, index) => (
                <PhotoTile
                  key={photo.key}
                  photo={photo}
                  index={index}
                  onRemove={() => composer.getState().removePhoto(photo.key)}
                  onRetry={() => void composer.getState().retryPhoto(photo.key)}
                />
              ))}
            </View>
          ) : null}
          {pickError ? (
            <Text variant="caption" color={colors.danger}>
              {pickError}
            </Text>
          ) : null}
          {draft.error ? (
            <Text variant="caption" color={colors.danger} testID="create-error">
              {describe(draft.error)}
            </Text>
          ) : null}
          <Row style={{ justifyContent: "space-between" }}>
            <Button
              testID="create-add-photo"
              kind="secondary"
              title={`Add photos (${draft.photos.length}/${MAX_PHOTOS})`}
              disabled={room <= 0 || draft.busy}
              onPress={() => void pick()}
            />
            <Button
              testID="create-submit"
              title={uploading ? "Uploading…" : "Post"}
              busy={draft.busy}
              disabled={!canPublish(draft)}
              onPress={() => void publish()}
            />
          </Row>
        </Card>

        <Divider />
        <Text variant="label" muted>
          More ways to share
        </Text>
        <Row gap={space.md}>
          <View style={{ flex: 1 }}>
            <Button testID="create-go-live" kind="secondary" title="● Go live" onPress={() => router.push("/live/host")} />
          </View>
          <View style={{ flex: 1 }}>
            <Button testID="create-sell" kind="secondary" title="Sell a product" onPress={() => router.push("/product/new")} />
          </View>
        </Row>
      </ScrollView>
    </Screen>
  );
}
