import { z } from 'zod';
import { PermanentError, type ActionContext } from '@hookflow/sdk';
import { markdownToAdf } from './adf';
import type { ApiTokenCredential } from './credential';
import { idempotencyLabel } from './idempotency-label';
import { callJira } from './jira-api';

/** JIRA refuses longer summaries. */
export const MAX_SUMMARY_LENGTH = 255;
export const MAX_LABEL_LENGTH = 255;

const adfDocument = z
  .looseObject({
    type: z.literal('doc'),
    version: z.literal(1),
    content: z.array(z.looseObject({ type: z.string() })),
  })
  .meta({ description: 'An Atlassian Document Format document, sent as it is' });

const CUSTOM_FIELD = /^customfield_\d+$/;

const label = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(MAX_LABEL_LENGTH)
  .regex(/^\S+$/, 'JIRA labels cannot contain spaces');

export const createIssueInput = z.strictObject({
  projectKey: z
    .string()
    .trim()
    .toUpperCase()
    .regex(/^[A-Z][A-Z0-9_]+$/, 'must be a project key such as OPS')
    .describe('Key of the project, such as OPS (the prefix of its issue keys)'),
  issueType: z
    .string()
    .trim()
    .min(1, 'must not be empty')
    .default('Task')
    .describe('Issue type name as the project shows it: Task, Bug, Story…'),
  summary: z
    .string()
    .trim()
    .min(1, 'must not be empty')
    // JIRA refuses line breaks in a summary; a templated value may carry some.
    .transform((value) => value.replace(/\s*[\r\n]+\s*/g, ' '))
    .pipe(z.string().max(MAX_SUMMARY_LENGTH, `JIRA accepts at most ${MAX_SUMMARY_LENGTH} characters`))
    .describe('One-line title of the issue'),
  description: z
    .union([z.string(), adfDocument])
    .optional()
    .describe(
      'Plain text or markdown-lite (paragraphs, - bullet and 1. numbered lists, # headings, **bold**, *italic*, ' +
        '`code`, ``` code blocks, [links](https://…)), converted to Atlassian Document Format; or an ADF document',
    ),
  labels: z.array(label).max(100).optional().describe('Labels to set (no spaces)'),
  priority: z.string().trim().min(1).optional().describe('Priority name, such as High'),
  assigneeAccountId: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9:_-]{1,128}$/, 'must be an Atlassian account ID')
    .optional()
    .describe('Atlassian account ID of the assignee'),
  parentKey: z
    .string()
    .trim()
    .toUpperCase()
    .regex(/^[A-Z][A-Z0-9_]+-\d+$/, 'must be an issue key such as OPS-12')
    .optional()
    .describe('Parent issue (the epic, or the issue of a sub-task)'),
  customFields: z
    .record(z.string(), z.unknown())
    .superRefine((fields, ctx) => {
      for (const key of Object.keys(fields)) {
        if (!CUSTOM_FIELD.test(key)) {
          ctx.issues.push({
            code: 'custom',
            message: 'custom fields are named customfield_<number>',
            path: [key],
            input: fields,
          });
        }
      }
    })
    .optional()
    .describe('Custom field values by field ID, such as {"customfield_10042": "A-1"}'),
  deduplicate: z
    .boolean()
    .default(true)
    .describe(
      'Mark the issue with a hookflow-… label and look for it before creating, so a retried step never creates a ' +
        'second issue (needs the Labels field on the create screen)',
    ),
});

export const createIssueOutput = z.object({
  id: z.string().describe('Issue ID'),
  key: z.string().describe('Issue key, such as OPS-123'),
  self: z.string().describe('REST URL of the issue'),
  url: z.string().describe('Browser URL of the issue'),
  existing: z
    .boolean()
    .describe(
      'True when an earlier attempt of this step had already created the issue (it was found, not created)',
    ),
});

export type CreateIssueInput = z.input<typeof createIssueInput>;
export type ParsedCreateIssueInput = z.output<typeof createIssueInput>;
export type CreateIssueOutput = z.output<typeof createIssueOutput>;

const issueRef = z.looseObject({
  id: z.union([z.string(), z.number()]).transform(String),
  key: z.string().optional(),
  self: z.string().optional(),
});
const searchAnswer = z.looseObject({ issues: z.array(issueRef) });

type IssueRef = z.output<typeof issueRef>;

function unexpected(what: string): PermanentError {
  return new PermanentError(
    `JIRA answered ${what} with an unexpected body; check the site URL of the credential`,
  );
}

/** The fields of the create request (`POST /rest/api/3/issue`). */
export function issueFields(input: ParsedCreateIssueInput, dedupLabel?: string): Record<string, unknown> {
  const labels = [...(input.labels ?? [])];
  if (dedupLabel && !labels.includes(dedupLabel)) labels.push(dedupLabel);
  const description =
    typeof input.description === 'string'
      ? input.description.trim() === ''
        ? undefined
        : markdownToAdf(input.description)
      : input.description;
  return {
    project: { key: input.projectKey },
    issuetype: { name: input.issueType },
    summary: input.summary,
    ...(description ? { description } : {}),
    ...(labels.length ? { labels } : {}),
    ...(input.priority ? { priority: { name: input.priority } } : {}),
    ...(input.assigneeAccountId ? { assignee: { accountId: input.assigneeAccountId } } : {}),
    ...(input.parentKey ? { parent: { key: input.parentKey } } : {}),
    ...input.customFields,
  };
}

/**
 * The issue of the project that carries the label, oldest first (`POST /rest/api/3/search/jql`, the
 * enhanced search that replaced the deprecated `/rest/api/3/search`).
 */
async function findLabelled(
  ctx: ActionContext<unknown>,
  credential: ApiTokenCredential,
  projectKey: string,
  dedupLabel: string,
): Promise<IssueRef | undefined> {
  const answer = await callJira(ctx, credential, {
    method: 'POST',
    path: '/rest/api/3/search/jql',
    body: {
      jql: `project = "${projectKey}" AND labels = "${dedupLabel}" ORDER BY created ASC`,
      fields: ['summary'],
      maxResults: 1,
    },
    what: 'looking for an issue created by an earlier attempt',
  });
  const parsed = searchAnswer.safeParse(answer);
  if (!parsed.success) throw unexpected('the search');
  return parsed.data.issues[0];
}

/** Completes an issue reference (the enhanced search may return only the ID). */
async function withKey(
  ctx: ActionContext<unknown>,
  credential: ApiTokenCredential,
  ref: IssueRef,
): Promise<IssueRef & { key: string }> {
  if (ref.key) return ref as IssueRef & { key: string };
  const answer = await callJira(ctx, credential, {
    method: 'GET',
    path: `/rest/api/3/issue/${encodeURIComponent(ref.id)}?fields=summary`,
    what: `reading issue ${ref.id}`,
  });
  const parsed = issueRef.safeParse(answer);
  if (!parsed.success || !parsed.data.key) throw unexpected(`issue ${ref.id}`);
  return { ...ref, ...parsed.data, key: parsed.data.key };
}

function toOutput(
  credential: ApiTokenCredential,
  ref: IssueRef & { key: string },
  existing: boolean,
): CreateIssueOutput {
  return {
    id: ref.id,
    key: ref.key,
    self: ref.self ?? `${credential.siteUrl}/rest/api/3/issue/${ref.id}`,
    url: `${credential.siteUrl}/browse/${ref.key}`,
    existing,
  };
}

/**
 * Creates the issue, at most once per step: unless `deduplicate` is off, an earlier attempt's issue (found
 * by its idempotency label) is returned instead of creating a second one.
 */
export async function createIssue(
  ctx: ActionContext<ApiTokenCredential>,
  input: ParsedCreateIssueInput,
): Promise<CreateIssueOutput> {
  const credential = ctx.credential;
  if (!credential) throw new PermanentError('jira.createIssue needs a JIRA Cloud API token credential');
  const jira = ctx as ActionContext<unknown>;
  const dedupLabel = input.deduplicate ? idempotencyLabel(ctx.idempotencyKey) : undefined;

  if (dedupLabel) {
    const found = await findLabelled(jira, credential, input.projectKey, dedupLabel);
    if (found) {
      const issue = await withKey(jira, credential, found);
      ctx.logger.info('an earlier attempt already created the issue; not creating another', {
        key: issue.key,
        label: dedupLabel,
      });
      return toOutput(credential, issue, true);
    }
  }

  const created = await callJira(jira, credential, {
    method: 'POST',
    path: '/rest/api/3/issue',
    body: { fields: issueFields(input, dedupLabel) },
    what: 'creating the issue',
  });
  const parsed = issueRef.safeParse(created);
  if (!parsed.success || !parsed.data.key) throw unexpected('the create request');
  return toOutput(credential, { ...parsed.data, key: parsed.data.key }, false);
}
