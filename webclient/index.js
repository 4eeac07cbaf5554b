// simplegw browser library: SIMPLE instant messaging (SIP over WebSocket,
// RFC 7118; MSRP over WebSocket, RFC 7977) for web pages. See README.md,
// section "Browser library".

export { createClient, Client, Watch } from './client.js';
export { Chat, Room, FileTransfer, ClientError } from './chat.js';
export { newMessageId } from './msrp/ident.js';

/** Version of the library. */
export const version = '0.1.0';
