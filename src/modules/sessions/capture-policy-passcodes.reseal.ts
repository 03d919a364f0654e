import { Resealer, resealerOf, SealedTable } from '../../common/crypto/reseal-rows';
import { zoomRoomsPasscodeAad } from './capture-policy';

const PASSCODE_PATH = `'{zoom_rooms,passcode_enc}'`;

/** sessions: the Zoom Rooms passcode inside capture_policy (zoom_rooms.passcode_enc). */
const CAPTURE_POLICY_PASSCODES: SealedTable = {
  kind: 'sessions.capture_policy',
  table: 'sessions',
  fields: [
    {
      read: `capture_policy #>> ${PASSCODE_PATH}`,
      // Only that one key of the policy is written: the rest stays as stored.
      write: (param) => `capture_policy = jsonb_set(capture_policy, ${PASSCODE_PATH}, to_jsonb(${param}::text))`,
      aad: zoomRoomsPasscodeAad,
    },
  ],
};

/** Re-seals every session's Zoom Rooms passcode with the newest key of the ring (`npm run tokens:reencrypt`). */
export const resealCapturePolicyPasscodes: Resealer = resealerOf(CAPTURE_POLICY_PASSCODES);
