/*
 * The zoom-rooms module's contract: plain constants other modules may import besides its
 * index.ts. Nothing here imports anything, so importing it can never close a load cycle
 * (zoom-rooms depends on sessions; sessions validates room ids with these).
 */

/**
 * Zoom room ids are short opaque strings (e.g. "qMOLddnySIGGVycz8aX_JQ"). A plain constant
 * with no imports: the sessions capture-policy DTO validates room ids with it without the
 * sessions module depending on zoom-rooms at the Nest level (zoom-rooms imports sessions).
 */
export const ZOOM_ROOM_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** The validation message for an id that does not match ZOOM_ROOM_ID_PATTERN. */
export const ZOOM_ROOM_ID_MESSAGE = 'each room id may hold letters, digits, _ and - (max 64)';
