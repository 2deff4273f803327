/*
 * mail_queue.c - (to be written)
 */
