/*
 * queue_id.c - (to be written)
 */
