/**
 * The video area of a stream on iOS and Android: Agora through
 * react-native-agora when the server issues Agora tokens
 * (`config.live_video`), the host publishing its camera and microphone and
 * a viewer watching as audience. Without Agora credentials the server's
 * development tokens reach no RTC service, so the panel shows the stream's
 * state instead and says why.
 *
 * Agora itself lives in `src/live/AgoraVideo.tsx`, loaded only when the
 * app has the native module.
 */
import type { ComponentType } from "react";
import { NativeModules, TurboModuleRegistry } from "react-native";

import { StagePanel } from "../live/LiveRoom";
import type { LiveTokenView, StreamView } from "../protocol/types";

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
  const AgoraVideo = agoraVideo();
  if (AgoraVideo === null) return <StagePanel stream={props.stream} note={NO_MODULE} />;
  return <AgoraVideo token={token} host={props.role === "host"} />;
}

const NO_MODULE = "Video needs a build of the app with Agora in it (Expo Go has none): the stream's state and chat work here.";

type AgoraVideoType = ComponentType<{ token: LiveTokenView; host: boolean }>;
let loaded: AgoraVideoType | null | undefined;

/**
 * react-native-agora throws as it is imported when its native module is
 * missing (Expo Go), and Expo Router imports every screen at start: so it
 * is required here, once, only after the module was found.
 */
function agoraVideo(): AgoraVideoType | null {
  if (loaded !== undefined) return loaded;
  const present = TurboModuleRegistry.get("AgoraRtcNg") != null || NativeModules.AgoraRtcNg != null;
  try {
    loaded = present ? (require("../live/AgoraVideo") as { AgoraVideo: AgoraVideoType }).AgoraVideo : null;
  } catch {
    loaded = null;
  }
  return loaded;
}

