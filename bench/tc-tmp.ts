import { benchToolCalls } from './tool-call.ts';

console.table(await benchToolCalls());
