import { Resealer, resealerOf, sealedColumn, SealedTable } from '../../common/crypto/reseal-rows';
import { passcodeAad } from './room-dispatch.views';

/** room_dispatches: the meeting passcode a room joins with. */
const DISPATCH_PASSCODES: SealedTable = {
  kind: 'room_dispatches',
  table: 'room_dispatches',
  fields: [sealedColumn('passcode_enc', passcodeAad)],
};

/** Re-seals every dispatch's passcode with the newest key of the ring (`npm run tokens:reencrypt`). */
export const resealDispatchPasscodes: Resealer = resealerOf(DISPATCH_PASSCODES);
