import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

// Served at /admin/ (CloudFront in AWS, the offline runtime locally); hashed asset names, no source maps shipped.
export default defineConfig({
  base: "/admin/",
  plugins: [react()],
  build: { outDir: "dist", emptyOutDir: true, sourcemap: false, chunkSizeWarningLimit: 800 },
  test: { environment: "node", include: ["src/**/*.test.ts"] },
});
