/*
 * cleanup_message.c - (to be written)
 */
