import { defineConfig } from "vitest/config";

export default defineConfig({
  // Components render through react-native-web in jsdom (files that say
  // `// @vitest-environment jsdom`), as they do in the web export.
  resolve: {
    alias: {
      "react-native": "react-native-web",
      // Its CommonJS build would require the real react-native.
      "react-native-safe-area-context": "react-native-safe-area-context/lib/module/index.js",
      // Expo's runtime needs Metro; see the double's comment.
      "expo-image": new URL("./test/doubles/expo-image.tsx", import.meta.url).pathname,
    },
    extensions: [".web.tsx", ".web.ts", ".tsx", ".ts", ".web.js", ".js", ".json"],
  },
  define: { __DEV__: "true" },
  test: {
    include: ["src/**/*.test.ts", "src/**/*.test.tsx"],
    // One real Grover for the run, started and stopped by test/grover.ts.
    globalSetup: ["./test/grover.ts"],
    testTimeout: 20_000,
    hookTimeout: 60_000,
    fileParallelism: false,
    server: { deps: { inline: [/react-native-web/, /react-native-safe-area-context/, /expo-/, /@expo\//] } },
  },
});
