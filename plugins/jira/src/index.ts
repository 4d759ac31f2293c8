import { defineAction, definePlugin, type ActionContext } from '@hookflow/sdk';
import { apiTokenCredential, type ApiTokenCredential } from './credential';
import { createIssue as create, createIssueInput, createIssueOutput } from './create-issue';

export { markdownToAdf, parseInline } from './adf';
export type { AdfBlock, AdfDoc, AdfInline, AdfListItem, AdfMark, AdfParagraph, AdfText } from './adf';
export { apiTokenCredential, apiTokenCredentialSchema, basicAuthorization } from './credential';
export type { ApiTokenCredential } from './credential';
export {
  MAX_LABEL_LENGTH,
  MAX_SUMMARY_LENGTH,
  createIssueInput,
  createIssueOutput,
  issueFields,
} from './create-issue';
export type { CreateIssueInput, CreateIssueOutput, ParsedCreateIssueInput } from './create-issue';
export { LABEL_PREFIX, idempotencyLabel } from './idempotency-label';
export { callJira, jiraError, jiraErrors } from './jira-api';
export type { JiraCall, JiraErrorBody } from './jira-api';

export const createIssue = defineAction({
  displayName: 'Create issue',
  description:
    'Creates a JIRA Cloud issue (REST API v3) with a markdown-lite description converted to Atlassian Document ' +
    'Format. A retried step finds the issue an earlier attempt created (by a hookflow-… label) instead of ' +
    'creating a second one. 401/403/404 and refused fields fail the step; 429 waits for Retry-After; 5xx and ' +
    'network errors are retried.',
  credential: 'apiToken',
  input: createIssueInput,
  output: createIssueOutput,
  // The first retry waits long enough for JIRA's search to index an issue whose create answer was lost.
  retry: { maximumAttempts: 5, initialIntervalMs: 10_000, backoffCoefficient: 2, maximumIntervalMs: 120_000 },
  timeoutMs: 120_000,
  run: (ctx: ActionContext<ApiTokenCredential>, input) => create(ctx, input),
});

export const plugin = definePlugin({
  name: 'jira',
  displayName: 'JIRA',
  description: 'Create JIRA Cloud issues, with rich-text descriptions and no duplicates on retries.',
  icon: 'jira',
  credentials: { apiToken: apiTokenCredential },
  actions: { createIssue },
});

export default plugin;
