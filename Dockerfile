# Hookflow image: api, ingress and worker roles from one build (choose with HOOKFLOW_ROLES).
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
COPY plugins/sdk/package.json plugins/sdk/
COPY plugins/http/package.json plugins/http/
COPY plugins/email/package.json plugins/email/
COPY plugins/slack/package.json plugins/slack/
COPY plugins/jira/package.json plugins/jira/
RUN npm ci --omit=optional --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev --omit=optional

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app /app
USER node
EXPOSE 3000
CMD ["node", "--enable-source-maps", "dist/src/main.js"]
