/**
 * The rotation Lambda for the secret `handler.ts` reads: Secrets Manager invokes it four times
 * per rotation (createSecret, setSecret, testSecret, finishSecret). In your code:
 *
 *   import { createRotationHandler } from 'credswap/aws';
 *
 * Single user: the application user changes its own password in setSecret. Until finishSecret
 * moves AWSCURRENT, new logins with the AWSCURRENT password fail; credswap pools then use
 * AWSPENDING. The Secrets Manager client takes its region and credentials from the Lambda
 * environment. Progress goes to the function's log, never a password.
 */
import { createRotationHandler } from '../../providers/aws/index.js';

export const handler = createRotationHandler({ strategy: 'single-user', logger: console });
