// The tasks list and a task's page; its status part is also served alone, for htmx to poll until the task is done.
import type { FastifyRequest } from 'fastify';
import type { Static } from '@sinclair/typebox';
import { v1 } from '../../api/representation.js';
import { parseJsonExact } from '../../lib/json.js';
import { getTaskRecord, getTaskText, listTasks } from '../../tasks/service.js';
import type { TaskParams, TasksQuery } from '../forms.js';
import { pageSession, sendHtml, type Dashboard } from '../page-kit.js';
import { taskPage, taskStatus, tasksPage, type TaskView } from '../views/tasks.js';

export const TASKS_PER_PAGE = 25;

export function taskPages(dashboard: Dashboard) {
  const { route, ctx } = dashboard;

  route('GET', '/tasks', { operation: 'ListTasks' }, async (request, reply) => {
    const page = Number((request.query as Static<typeof TasksQuery>).page ?? 1);
    const tasks = await listTasks(ctx, { limit: TASKS_PER_PAGE + 1, offset: (page - 1) * TASKS_PER_PAGE });
    return sendHtml(
      reply,
      tasksPage({ session: pageSession(request), tasks: tasks.slice(0, TASKS_PER_PAGE), page, hasNext: tasks.length > TASKS_PER_PAGE, nowMs: dashboard.now() }),
    );
  });

  /** The task as stored, with its result or error as GetTask answers them (an export's signed link included). */
  async function taskView(request: FastifyRequest): Promise<TaskView> {
    const id = (request.params as Static<typeof TaskParams>).task_id;
    const record = await getTaskRecord(ctx, id);
    const answer = parseJsonExact(await getTaskText(ctx, id, v1, dashboard.baseUrl(request))) as TaskView['answer'] & { status: typeof record.status };
    // The answer was read last: its status goes with its result.
    return { session: pageSession(request), task: { ...record, status: answer.status }, answer, nowMs: dashboard.now() };
  }

  route('GET', '/tasks/:task_id', { operation: 'GetTask' }, async (request, reply) => sendHtml(reply, taskPage(await taskView(request))));

  route('GET', '/tasks/:task_id/status', { operation: 'GetTask' }, async (request, reply) => sendHtml(reply, taskStatus(await taskView(request)).text));
}
