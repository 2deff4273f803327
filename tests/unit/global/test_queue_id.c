/*
 * test_queue_id.c - (to be written)
 */
int main(void) { return 0; }
