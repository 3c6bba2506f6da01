/**
 * The video area of a stream on the web: no video here (Agora plays in the
 * native app), so the panel shows the stream's state and says why. Metro
 * takes `LiveVideo.native.tsx` on iOS and Android instead, so the web bundle
 * never loads react-native-agora.
 */
import type { LiveTokenView, StreamView } from "../protocol/types";
import { StagePanel } from "../live/LiveRoom";

export interface LiveVideoProps {
  stream: StreamView;
  /** The RTC token from `stream.start`/`stream.join`; null when not in the stream. */
  token: LiveTokenView | null;
  role: "host" | "viewer";
  /** `config.live_video`: the server issues Agora tokens (not development ones). */
  videoEnabled: boolean;
}

export function webVideoNote(videoEnabled: boolean): string {
  return videoEnabled
    ? "Video plays in the Grover app on iOS and Android; web shows the stream's state only."
    : "Video plays in the Grover app on iOS and Android; this server has no Agora credentials, so web shows the stream's state only.";
}

export function LiveVideo(props: LiveVideoProps) {
  return <StagePanel stream={props.stream} note={webVideoNote(props.videoEnabled)} />;
}
