/*
 * cleanup_envelope.c - (to be written)
 */
