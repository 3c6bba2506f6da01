/**
 * expo-image in unit tests: its web build pulls in Expo's runtime, which
 * needs Metro. Components under test get this plain image instead (the
 * browser tests run the real one in the web export).
 */
import { Image as RNImage, type ImageStyle as RNImageStyle, type StyleProp } from "react-native";

export type ImageStyle = RNImageStyle;

export function Image(props: {
  source: { uri: string };
  placeholder?: { blurhash: string } | null;
  style?: StyleProp<RNImageStyle>;
  testID?: string;
}) {
  return (
    <RNImage
      testID={props.testID}
      source={{ uri: props.source.uri }}
      accessibilityLabel={props.placeholder ? `blurhash:${props.placeholder.blurhash}` : undefined}
      style={props.style}
    />
  );
}
