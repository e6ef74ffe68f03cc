// `@peculiar/x509` resolves its parts through tsyringe, which needs the Reflect metadata API installed
// before the library loads; this module is the one place Baton imports it, so the order holds everywhere.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

export { x509 };
