/**
 * Where PayPal sends the buyer back (`checkout_return_url`, and with
 * `cancelled=1` its cancel URL). On web this page opens inside the PayPal
 * popup: `maybeCompleteAuthSession` hands its URL to the checkout window,
 * which closes the popup and captures the payment. Needs no login.
 */
import { router, useLocalSearchParams } from "expo-router";
import * as WebBrowser from "expo-web-browser";
import { useEffect, useState } from "react";
import { View } from "react-native";

import { Button, Screen, Text } from "../../src/ui/kit";
import { space, useTheme } from "../../src/ui/theme";

export default function PayPalReturn() {
  const { cancelled } = useLocalSearchParams<{ cancelled?: string }>();
  const { colors } = useTheme();
  // Whether a checkout window took the result (it then closes this one).
  const [handedBack, setHandedBack] = useState<boolean | null>(null);
  useEffect(() => {
    setHandedBack(WebBrowser.maybeCompleteAuthSession().type === "success");
  }, []);

  const approved = cancelled !== "1";
  return (
    <Screen padded>
      <View style={{ flex: 1, justifyContent: "center", alignItems: "center", gap: space.lg }}>
        <Text variant="display" color={approved ? colors.success : colors.textMuted}>
          {approved ? "✓" : "×"}
        </Text>
        <Text testID="paypal-return" variant="title" style={{ textAlign: "center" }}>
          {approved ? "Payment approved — return to Grover" : "Payment cancelled — return to Grover"}
        </Text>
        <Text muted style={{ textAlign: "center" }}>
          {handedBack === false
            ? "Your order is in My orders in the Grover app."
            : "This window closes on its own."}
        </Text>
        {handedBack === false ? (
          <Button testID="paypal-return-home" kind="secondary" title="Open Grover" onPress={() => router.replace("/")} />
        ) : null}
      </View>
    </Screen>
  );
}
