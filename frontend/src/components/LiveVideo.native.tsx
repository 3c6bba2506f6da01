/**
 * The video area of a stream on iOS and Android: Agora through
 * react-native-agora when the server issues Agora tokens
 * (`config.live_video`), the host publishing its camera and microphone and
 * a viewer watching as audience. Without Agora credentials the server's
 * development tokens reach no RTC service, so the panel shows the stream's
 * state instead and says why.
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

import { StagePanel } from "../live/LiveRoom";
import type { LiveTokenView, StreamView } from "../protocol/types";
import { Text } from "../ui/kit";
import { space, useTheme } from "../ui/theme";

export interface LiveVideoProps {
  stream: StreamView;
  /** The RTC token from `stream.start`/`stream.join`; null when not in the stream. */
  token: LiveTokenView | null;
  role: "host" | "viewer";
  /** `config.live_video`: the server issues Agora tokens (not development ones). */
  videoEnabled: boolean;
}

const NO_CREDENTIALS =
  "This server has no Agora credentials, so there is no video: the stream's state and its chat work as usual.";

export function LiveVideo(props: LiveVideoProps) {
  const { token } = props;
  if (!props.videoEnabled || token === null || token.development || token.app_id === "") {
    const note = props.stream.status === "live" && !props.videoEnabled ? NO_CREDENTIALS : "No video.";
    return <StagePanel stream={props.stream} note={note} />;
  }
  return <AgoraVideo token={token} host={props.role === "host"} />;
}

async function mayPublish(): Promise<boolean> {
  if (Platform.OS !== "android") return true; // iOS asks on first use (Info.plist strings)
  const granted = await PermissionsAndroid.requestMultiple([
    PermissionsAndroid.PERMISSIONS.CAMERA,
    PermissionsAndroid.PERMISSIONS.RECORD_AUDIO,
  ]);
  return Object.values(granted).every((answer) => answer === PermissionsAndroid.RESULTS.GRANTED);
}

function AgoraVideo(props: { token: LiveTokenView; host: boolean }) {
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
