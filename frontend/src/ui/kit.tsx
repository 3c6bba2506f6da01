/**
 * The app's building blocks. Every screen is made of these so spacing, type
 * and colour come from one place (`theme.ts`), and every screen has the same
 * empty, loading and error states.
 */
import { Image, type ImageStyle } from "expo-image";
import type { ReactNode } from "react";
import {
  ActivityIndicator,
  Pressable,
  type StyleProp,
  Text as RNText,
  TextInput,
  type TextInputProps,
  type TextStyle,
  View,
  type ViewStyle,
} from "react-native";
import { SafeAreaView } from "react-native-safe-area-context";

import { radius, space, type, useTheme } from "./theme";

type Variant = keyof typeof type;

export function Text(props: {
  children?: ReactNode;
  variant?: Variant;
  muted?: boolean;
  color?: string;
  numberOfLines?: number;
  style?: StyleProp<TextStyle>;
  testID?: string;
}) {
  const { colors } = useTheme();
  const color = props.color ?? (props.muted ? colors.textMuted : colors.text);
  return (
    <RNText
      testID={props.testID}
      numberOfLines={props.numberOfLines}
      style={[type[props.variant ?? "body"], { color }, props.style]}
    >
      {props.children}
    </RNText>
  );
}

/** A screen's background and safe area; `edges` defaults to the top. */
export function Screen(props: {
  children: ReactNode;
  padded?: boolean;
  edges?: ("top" | "bottom")[];
  testID?: string;
}) {
  const { colors } = useTheme();
  return (
    <SafeAreaView
      testID={props.testID}
      edges={props.edges ?? ["top"]}
      style={{ flex: 1, backgroundColor: colors.background, padding: props.padded ? space.lg : 0 }}
    >
      {props.children}
    </SafeAreaView>
  );
}

export function Card(props: { children: ReactNode; style?: StyleProp<ViewStyle>; testID?: string }) {
  const { colors } = useTheme();
  return (
    <View
      testID={props.testID}
      style={[
        {
          backgroundColor: colors.surface,
          borderRadius: radius.md,
          borderWidth: 1,
          borderColor: colors.border,
          padding: space.lg,
        },
        props.style,
      ]}
    >
      {props.children}
    </View>
  );
}

export function Row(props: { children: ReactNode; gap?: number; style?: StyleProp<ViewStyle> }) {
  return (
    <View style={[{ flexDirection: "row", alignItems: "center", gap: props.gap ?? space.sm }, props.style]}>
      {props.children}
    </View>
  );
}

export function Button(props: {
  title: string;
  onPress: () => void;
  kind?: "primary" | "secondary" | "danger" | "ghost";
  disabled?: boolean;
  busy?: boolean;
  small?: boolean;
  testID?: string;
}) {
  const { colors } = useTheme();
  const kind = props.kind ?? "primary";
  const background = {
    primary: colors.primary,
    secondary: colors.surfaceMuted,
    danger: colors.danger,
    ghost: "transparent",
  }[kind];
  const foreground = kind === "primary" || kind === "danger" ? colors.onPrimary : colors.text;
  const disabled = props.disabled === true || props.busy === true;
  return (
    <Pressable
      testID={props.testID}
      accessibilityRole="button"
      accessibilityState={{ disabled }}
      aria-disabled={disabled}
      disabled={disabled}
      onPress={props.onPress}
      style={({ pressed }) => ({
        backgroundColor: background,
        opacity: disabled ? 0.5 : pressed ? 0.8 : 1,
        borderRadius: radius.md,
        paddingVertical: props.small ? space.xs + 2 : space.md,
        paddingHorizontal: props.small ? space.md : space.lg,
        alignItems: "center",
        justifyContent: "center",
        flexDirection: "row",
        gap: space.sm,
      })}
    >
      {props.busy ? <ActivityIndicator size="small" color={foreground} /> : null}
      <Text variant="label" color={foreground}>
        {props.title}
      </Text>
    </Pressable>
  );
}

export function TextField(props: TextInputProps & { label?: string; error?: string | null }) {
  const { colors } = useTheme();
  const { label, error, style, ...input } = props;
  return (
    <View style={{ gap: space.xs }}>
      {label ? (
        <Text variant="caption" muted>
          {label}
        </Text>
      ) : null}
      <TextInput
        placeholderTextColor={colors.textMuted}
        {...input}
        style={[
          type.body,
          {
            color: colors.text,
            backgroundColor: colors.surface,
            borderColor: error ? colors.danger : colors.border,
            borderWidth: 1,
            borderRadius: radius.md,
            paddingHorizontal: space.md,
            paddingVertical: space.sm + 2,
          },
          style,
        ]}
      />
      {error ? (
        <Text variant="caption" color={colors.danger}>
          {error}
        </Text>
      ) : null}
    </View>
  );
}

/** A lazily loaded image with its BlurHash shown until it arrives. */
export function LazyImage(props: {
  uri: string;
  blurhash?: string | null;
  aspectRatio?: number;
  size?: number;
  round?: boolean;
  testID?: string;
}) {
  const { colors } = useTheme();
  const dims: ImageStyle =
    props.size !== undefined
      ? { width: props.size, height: props.size }
      : { width: "100%", aspectRatio: props.aspectRatio ?? 1 };
  return (
    <Image
      testID={props.testID}
      source={{ uri: props.uri }}
      placeholder={props.blurhash ? { blurhash: props.blurhash } : null}
      contentFit="cover"
      transition={150}
      recyclingKey={props.uri}
      style={[dims, { backgroundColor: colors.surfaceMuted, borderRadius: props.round ? radius.round : radius.sm }]}
    />
  );
}

/** The user's picture, or their initial on a coloured disc. */
export function Avatar(props: { name: string; uri?: string | null; size?: number }) {
  const { colors } = useTheme();
  const size = props.size ?? 40;
  if (props.uri) return <LazyImage uri={props.uri} size={size} round />;
  return (
    <View
      style={{
        width: size,
        height: size,
        borderRadius: size / 2,
        backgroundColor: colors.primary,
        alignItems: "center",
        justifyContent: "center",
      }}
    >
      <Text variant="label" color={colors.onPrimary} style={{ fontSize: size * 0.42 }}>
        {(props.name[0] ?? "?").toUpperCase()}
      </Text>
    </View>
  );
}

/** A count on a red disc, or nothing when zero. */
export function Badge(props: { count: number; testID?: string }) {
  const { colors } = useTheme();
  if (props.count <= 0) return null;
  return (
    <View
      testID={props.testID}
      style={{
        minWidth: 20,
        height: 20,
        borderRadius: 10,
        paddingHorizontal: 6,
        backgroundColor: colors.danger,
        alignItems: "center",
        justifyContent: "center",
      }}
    >
      <Text variant="caption" color="#fff" style={{ fontWeight: "700" }}>
        {props.count > 99 ? "99+" : String(props.count)}
      </Text>
    </View>
  );
}

function Centered(props: { children: ReactNode; testID?: string }) {
  return (
    <View
      testID={props.testID}
      style={{ flex: 1, alignItems: "center", justifyContent: "center", padding: space.xl, gap: space.md }}
    >
      {props.children}
    </View>
  );
}

export function LoadingState(props: { label?: string }) {
  const { colors } = useTheme();
  return (
    <Centered testID="state-loading">
      <ActivityIndicator color={colors.primary} />
      {props.label ? <Text muted>{props.label}</Text> : null}
    </Centered>
  );
}

export function EmptyState(props: { title: string; hint?: string; action?: ReactNode }) {
  return (
    <Centered testID="state-empty">
      <Text variant="title" style={{ textAlign: "center" }}>
        {props.title}
      </Text>
      {props.hint ? (
        <Text muted style={{ textAlign: "center" }}>
          {props.hint}
        </Text>
      ) : null}
      {props.action}
    </Centered>
  );
}

export function ErrorState(props: { message: string; onRetry?: () => void }) {
  const { colors } = useTheme();
  return (
    <Centered testID="state-error">
      <Text variant="label" color={colors.danger} style={{ textAlign: "center" }}>
        {props.message}
      </Text>
      {props.onRetry ? <Button title="Try again" kind="secondary" onPress={props.onRetry} /> : null}
    </Centered>
  );
}

export function Divider() {
  const { colors } = useTheme();
  return <View style={{ height: 1, backgroundColor: colors.border }} />;
}

/** "3m", "2h", "5d": how long ago a unix time in seconds was. */
export function ago(seconds: number, now = Date.now() / 1000): string {
  const d = Math.max(0, now - seconds);
  if (d < 60) return "now";
  if (d < 3600) return `${Math.floor(d / 60)}m`;
  if (d < 86400) return `${Math.floor(d / 3600)}h`;
  return `${Math.floor(d / 86400)}d`;
}

/** Minor units as money: 1999 USD → "$19.99". */
export function money(minor: number, currency: string): string {
  const zeroDecimal = new Set(["JPY", "HUF", "TWD"]);
  const digits = zeroDecimal.has(currency) ? 0 : 2;
  const value = minor / 10 ** digits;
  try {
    return new Intl.NumberFormat(undefined, { style: "currency", currency, minimumFractionDigits: digits }).format(value);
  } catch {
    return `${value.toFixed(digits)} ${currency}`;
  }
}
