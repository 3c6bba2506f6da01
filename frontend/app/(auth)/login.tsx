import { Link } from "expo-router";
import { useState } from "react";
import { View } from "react-native";
import { useStore } from "zustand";

import { useGrover } from "../../src/runtime/grover";
import { errorText } from "../../src/ui/errors";
import { Button, Screen, Text, TextField } from "../../src/ui/kit";
import { space } from "../../src/ui/theme";

export default function Login() {
  const session = useGrover().session;
  const { busy, error } = useStore(session);
  const [login, setLogin] = useState("");
  const [password, setPassword] = useState("");
  const submit = () => void session.getState().login(login.trim(), password).catch(() => undefined);
  return (
    <Screen padded>
      <View style={{ flex: 1, justifyContent: "center", gap: space.lg, maxWidth: 420, width: "100%", alignSelf: "center" }}>
        <Text variant="display">Welcome back</Text>
        <Text muted>Log in to Grover.</Text>
        <TextField testID="login-name" label="Username or email" autoCapitalize="none" value={login} onChangeText={setLogin} />
        <TextField
          testID="login-password"
          label="Password"
          secureTextEntry
          value={password}
          onChangeText={setPassword}
          onSubmitEditing={submit}
          error={error ? errorText(error) : null}
        />
        <Button testID="login-submit" title="Log in" busy={busy} disabled={!login || !password} onPress={submit} />
        <Link href="/signup" testID="to-signup">
          <Text muted>New here? Create an account</Text>
        </Link>
      </View>
    </Screen>
  );
}
