/**
 * Agora's video in a stream (iOS and Android only): loaded by
 * `LiveVideo.native.tsx` only when the app has the native module, so a
 * build without it (Expo Go) never imports react-native-agora.
 *
 * The engine joins once per channel and role; a renewed token (the store
 * renews it before it expires) is handed to `renewToken` without rejoining.
 */
import { useEffect, useRef, useState } from "react";
import { PermissionsAndroid, Platform, StyleSheet, View } from "react-native";
import {
  ChannelProfileType,
  ClientRoleType,
  type IRtcEngine,
  type IRtcEngineEventHandler,
  RenderModeType,
  RtcSurfaceView,
  createAgoraRtcEngine,
} from "react-native-agora";

import type { LiveTokenView } from "../protocol/types";
import { Text } from "../ui/kit";
import { space, useTheme } from "../ui/theme";

async function mayPublish(): Promise<boolean> {
  if (Platform.OS !== "android") return true; // iOS asks on first use (Info.plist strings)
  const granted = await PermissionsAndroid.requestMultiple([
    PermissionsAndroid.PERMISSIONS.CAMERA,
    PermissionsAndroid.PERMISSIONS.RECORD_AUDIO,
  ]);
  return Object.values(granted).every((answer) => answer === PermissionsAndroid.RESULTS.GRANTED);
}

export function AgoraVideo(props: { token: LiveTokenView; host: boolean }) {
  const { colors } = useTheme();
  const { token, host } = props;
  const engine = useRef<IRtcEngine | null>(null);
  const joinedWith = useRef<string | null>(null);
  const [remoteUid, setRemoteUid] = useState<number | null>(null);
  const [problem, setProblem] = useState<string | null>(null);

  useEffect(() => {
    let cancelled = false;
    let initialized = false;
    const rtc = createAgoraRtcEngine();
    engine.current = rtc;
    const handler: IRtcEngineEventHandler = {
      onJoinChannelSuccess: () => setProblem(null),
      // As audience only broadcasters (the host) are seen joining.
      onUserJoined: (_connection, uid) => setRemoteUid(uid),
      onUserOffline: (_connection, uid) => setRemoteUid((current) => (current === uid ? null : current)),
      onError: (_code, message) => setProblem(message || "The video connection failed."),
    };
    void (async () => {
      if (host && !(await mayPublish())) {
        if (!cancelled) setProblem("Grover needs the camera and microphone to go live.");
        return;
      }
      if (cancelled) return;
      rtc.initialize({ appId: token.app_id, channelProfile: ChannelProfileType.ChannelProfileLiveBroadcasting });
      initialized = true;
      rtc.registerEventHandler(handler);
      rtc.enableVideo();
      if (host) rtc.startPreview();
      joinedWith.current = token.token;
      rtc.joinChannelWithUserAccount(token.token, token.channel, token.account, {
        clientRoleType: host ? ClientRoleType.ClientRoleBroadcaster : ClientRoleType.ClientRoleAudience,
        publishCameraTrack: host,
        publishMicrophoneTrack: host,
        autoSubscribeAudio: true,
        autoSubscribeVideo: true,
      });
    })();
    return () => {
      cancelled = true;
      engine.current = null;
      if (!initialized) return;
      rtc.unregisterEventHandler(handler);
      rtc.leaveChannel();
      rtc.release();
      joinedWith.current = null;
    };
    // A new token for the same channel is a renewal (below), not a new join.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [token.app_id, token.channel, token.account, host]);

  useEffect(() => {
    if (engine.current === null || joinedWith.current === null || joinedWith.current === token.token) return;
    engine.current.renewToken(token.token);
    joinedWith.current = token.token;
  }, [token.token]);

  const waiting = problem ?? (host || remoteUid !== null ? null : "Waiting for the host's video…");
  return (
    <View testID="live-video" style={{ flex: 1, backgroundColor: colors.surfaceMuted }}>
      {host ? (
        <RtcSurfaceView style={{ flex: 1 }} canvas={{ uid: 0, renderMode: RenderModeType.RenderModeHidden }} />
      ) : remoteUid !== null ? (
        <RtcSurfaceView style={{ flex: 1 }} canvas={{ uid: remoteUid, renderMode: RenderModeType.RenderModeHidden }} />
      ) : null}
      {waiting !== null ? (
        <View style={{ ...StyleSheet.absoluteFill, alignItems: "center", justifyContent: "center", padding: space.xl }}>
          <Text muted style={{ textAlign: "center" }}>
            {waiting}
          </Text>
        </View>
      ) : null}
    </View>
  );
}
