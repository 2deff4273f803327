/*
 * test_mail_queue.c - (to be written)
 */
int main(void) { return 0; }
