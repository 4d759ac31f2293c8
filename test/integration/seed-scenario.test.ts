import {
  CREATE_FLOW,
  DELIVERY_WITH_RUN,
  eventually,
  gqlOk,
  startTestApp,
  type TestApp,
} from '../helpers/hookflow';
import { createTestDatabase, query } from '../helpers/postgres';
import { startJira, startSlackWebhook, startSmtpServer } from '../helpers/vendors';

/**
 * DESIGN.md's acceptance scenario: an order arrives; a confirmation email goes to the customer, Slack hears about
 * it through an incoming webhook (API Call), and a JIRA issue is opened for fulfilment. The SMTP server drops the
 * first connection after taking the message and JIRA loses the answer to the first create, so both steps are
 * retried by Temporal: the email keeps its Message-ID and JIRA still has one issue.
 */

const ORDER = {
  order_id: 'A-1001',
  customer_email: 'ada@example.com',
  total: 129.5,
  items: [
    { sku: 'SKU-1', qty: 2 },
    { sku: 'SKU-9', qty: 1 },
  ],
};

const CREATE_CREDENTIAL = `mutation($input: CreateCredentialInput!) { createCredential(input: $input) { id } }`;

describe('the seed scenario: email, Slack and JIRA from one webhook', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let app: TestApp;

  beforeAll(async () => {
    db = await createTestDatabase();
    app = await startTestApp({ databaseUrl: db.url });
  });
  afterAll(async () => {
    await app?.stop();
    await db?.drop();
  });

  it('delivers all three actions exactly as the vendors expect, once each despite retries', async () => {
    const smtp = await startSmtpServer({ dropFirst: true });
    const slack = await startSlackWebhook();
    const jira = await startJira({
      email: 'ops@example.com',
      apiToken: 'jira-token-123456',
      loseFirstCreateAnswer: true,
    });
    try {
      const credential = async (plugin: string, type: string, data: Record<string, unknown>) =>
        (
          await gqlOk(app, app.adminKey, CREATE_CREDENTIAL, {
            input: { name: `${plugin} account`, plugin, type, data },
          })
        ).createCredential.id as string;
      const smtpId = await credential('email', 'smtp', {
        host: '127.0.0.1',
        port: smtp.port,
        security: 'NONE',
        from: 'shop@example.com',
      });
      const jiraId = await credential('jira', 'apiToken', {
        siteUrl: jira.url,
        email: 'ops@example.com',
        apiToken: 'jira-token-123456',
      });

      const { createFlow: flow } = await gqlOk(app, app.adminKey, CREATE_FLOW, {
        input: {
          name: 'New order',
          trigger: {
            label: 'Order placed',
            description: 'The shop posts every new order',
            variables: [
              { name: 'order_id', type: 'STRING', required: true },
              { name: 'customer_email', type: 'STRING', required: true },
              { name: 'total', type: 'NUMBER', required: true },
              {
                name: 'items',
                type: 'ARRAY',
                items: { type: 'OBJECT', properties: [{ name: 'sku', type: 'STRING' }] },
              },
            ],
          },
          steps: [
            {
              key: 'confirm',
              plugin: 'email',
              action: 'send',
              credentialId: smtpId,
              input: {
                to: '{{webhook.customer_email}}',
                subject: 'Order {{webhook.order_id}} confirmed',
                text: 'Thank you! Your order {{webhook.order_id}} of {{webhook.total}} EUR is on its way.',
              },
            },
            {
              key: 'notify',
              plugin: 'http',
              action: 'slackWebhook',
              input: {
                webhookUrl: slack.url,
                text: 'New order {{webhook.order_id}} from {{webhook.customer_email}}: {{webhook.total}} EUR, first item {{webhook.items[0].sku}}',
              },
            },
            {
              key: 'fulfil',
              plugin: 'jira',
              action: 'createIssue',
              credentialId: jiraId,
              input: {
                projectKey: 'OPS',
                issueType: 'Task',
                summary: 'Fulfil order {{webhook.order_id}}',
                description:
                  'Ship to {{webhook.customer_email}}.\n\nConfirmation email: {{steps.confirm.output.messageId}}',
                labels: ['fulfilment'],
              },
            },
          ],
        },
      });

      const res = await fetch(flow.webhookUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(ORDER),
      });
      expect(res.status).toBe(202);
      const { deliveryId } = (await res.json()) as { deliveryId: string };

      const delivery = await eventually(
        async () => {
          const d = (await gqlOk(app, app.adminKey, DELIVERY_WITH_RUN, { id: deliveryId })).delivery;
          return d.run && d.run.status !== 'RUNNING' ? d : undefined;
        },
        90_000,
        'the run to finish',
      );
      expect(delivery.run.status).toBe('COMPLETED');
      expect(delivery.run.steps.map((s: any) => [s.stepKey, s.status, s.attempts])).toEqual([
        ['confirm', 'SUCCEEDED', 2],
        ['notify', 'SUCCEEDED', 1],
        ['fulfil', 'SUCCEEDED', 2],
      ]);

      // Email: the retry re-sent the message with the same Message-ID.
      expect(smtp.messages).toHaveLength(2);
      const messageIds = smtp.messages.map((m) => /^Message-ID:\s*(<[^>]+>)/im.exec(m.raw)?.[1]);
      expect(messageIds[0]).toMatch(/^<[0-9a-f]{64}@example\.com>$/);
      expect(messageIds[1]).toBe(messageIds[0]);
      const [mail] = smtp.messages;
      expect(mail!.from).toBe('shop@example.com');
      expect(mail!.to).toEqual(['ada@example.com']);
      expect(mail!.raw).toMatch(/^Subject: Order A-1001 confirmed$/m);
      expect(mail!.raw).toContain('Your order A-1001 of 129.5 EUR is on its way.');

      // Slack: one post with the order details.
      expect(slack.posts).toEqual([
        {
          contentType: expect.stringMatching(/^application\/json/),
          body: { text: 'New order A-1001 from ada@example.com: 129.5 EUR, first item SKU-1' },
        },
      ]);

      // JIRA: one issue although the first answer was lost, with the description in Atlassian Document Format.
      expect(jira.issues).toHaveLength(1);
      const [issue] = jira.issues;
      expect(issue!.fields).toMatchObject({
        project: { key: 'OPS' },
        issuetype: { name: 'Task' },
        summary: 'Fulfil order A-1001',
        description: { type: 'doc', version: 1 },
      });
      expect(issue!.fields.labels).toEqual(
        expect.arrayContaining(['fulfilment', expect.stringMatching(/^hookflow-[0-9a-f]{16}$/)]),
      );
      expect(JSON.stringify(issue!.fields.description)).toContain(messageIds[0]!.slice(1, -1));
      const fulfil = delivery.run.steps[2];
      expect(fulfil.output).toMatchObject({ key: 'OPS-1', existing: true });

      // No secret of either credential is stored in plain text anywhere in the run's records.
      const stored = JSON.stringify(await query(db.url, 'select input, output, error from step_run'));
      expect(stored).not.toContain('jira-token-123456');
    } finally {
      await Promise.all([smtp.close(), slack.close(), jira.close()]);
    }
  }, 150_000);
});
